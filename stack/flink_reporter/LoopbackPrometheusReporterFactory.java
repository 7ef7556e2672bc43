package org.apache.flink.metrics.prometheus;

import org.apache.flink.metrics.reporter.MetricReporter;
import org.apache.flink.metrics.reporter.MetricReporterFactory;
import org.apache.flink.util.NetUtils;

import java.util.Properties;

/**
 * Creates the {@link LoopbackPrometheusReporter} from `metrics.reporter.<name>.*`: host, port (a port
 * or a range), user and password. Refuses to start without a password rather than serve anyone.
 */
public class LoopbackPrometheusReporterFactory implements MetricReporterFactory {

    @Override
    public MetricReporter createMetricReporter(Properties properties) {
        String host = properties.getProperty("host", "127.0.0.1");
        String ports = properties.getProperty("port", "9249");
        String user = properties.getProperty("user", "");
        String password = properties.getProperty("password", "");
        if (user.isEmpty() || password.isEmpty()) {
            throw new IllegalArgumentException(
                    "The Prometheus reporter needs a user and password (metrics.reporter.<name>.user/.password)");
        }
        return new LoopbackPrometheusReporter(host, NetUtils.getPortRangeFromString(ports), user, password);
    }
}
