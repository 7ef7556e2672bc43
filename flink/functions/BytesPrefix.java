package fraud.flink;

import java.util.Arrays;

import org.apache.flink.table.functions.ScalarFunction;

/**
 * BYTES_PREFIX(bytes, n): the first n bytes of a BYTES value (all of it when shorter), or NULL for NULL.
 * CAST to VARBINARY(n) cannot do it: Flink 2.0 pads shorter values to n bytes with zeros.
 */
public final class BytesPrefix extends ScalarFunction {
    public byte[] eval(byte[] value, Integer n) {
        if (value == null || n == null) {
            return null;
        }
        return value.length <= n ? value : Arrays.copyOf(value, Math.max(n, 0));
    }
}
