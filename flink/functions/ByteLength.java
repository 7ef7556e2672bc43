package fraud.flink;

import org.apache.flink.table.functions.ScalarFunction;

/**
 * BYTE_LENGTH(bytes): the length of a BYTES value, or NULL for NULL. Flink SQL has no length function
 * for BYTES; the job needs one for every record (flink/sql/scoring/2_sources.sql), so it is a plain
 * array length rather than an expression over the value's base64 text.
 */
public final class ByteLength extends ScalarFunction {
    public Long eval(byte[] value) {
        return value == null ? null : (long) value.length;
    }
}
