package org.apache.flink.metrics.prometheus;

import com.sun.net.httpserver.BasicAuthenticator;
import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.prometheus.client.exporter.common.TextFormat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Iterator;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Flink's Prometheus reporter (AbstractPrometheusReporter turns Flink's metrics into Prometheus
 * samples), served on one address and only to a caller who signs in.
 *
 * <p>Flink's own PrometheusReporter listens on every interface and answers anyone: the local stack
 * keeps every port on loopback and every API behind a login. This one binds `host` (the first free
 * port of `port`, a port or a range as Flink's reporter takes it) and answers GET /metrics to HTTP
 * Basic `user`/`password` only.
 *
 * <p>It lives in Flink's reporter package because the registry the base class fills is
 * package-private; it is loaded from the same plugin directory as that jar.
 */
public class LoopbackPrometheusReporter extends AbstractPrometheusReporter {

    private static final String REALM = "flink-metrics";

    private final HttpServer server;
    private final ExecutorService executor;

    LoopbackPrometheusReporter(String host, Iterator<Integer> ports, String user, String password) {
        HttpServer bound = null;
        while (bound == null && ports.hasNext()) {
            int port = ports.next();
            try {
                bound = HttpServer.create(new InetSocketAddress(host, port), 0);
            } catch (IOException taken) {
                log.debug("Port {}:{} is taken, trying the next one.", host, port, taken);
            }
        }
        if (bound == null) {
            throw new IllegalStateException("No free port for the Prometheus reporter on " + host);
        }
        server = bound;
        HttpContext context = server.createContext("/metrics", this::serveMetrics);
        context.setAuthenticator(new SharedLogin(user, password));
        executor = Executors.newSingleThreadExecutor(runnable -> {
            Thread thread = new Thread(runnable, "prometheus-reporter-http");
            thread.setDaemon(true);
            return thread;
        });
        server.setExecutor(executor);
        server.start();
        log.info("Prometheus reporter serving {} (login required).", server.getAddress());
    }

    private void serveMetrics(HttpExchange exchange) throws IOException {
        try (exchange) {
            if (!"GET".equals(exchange.getRequestMethod())) {
                exchange.sendResponseHeaders(405, -1);
                return;
            }
            ByteArrayOutputStream body = new ByteArrayOutputStream(64 * 1024);
            try (Writer writer = new OutputStreamWriter(body, StandardCharsets.UTF_8)) {
                TextFormat.write004(writer, registry.metricFamilySamples());
            }
            exchange.getResponseHeaders().set("Content-Type", TextFormat.CONTENT_TYPE_004);
            exchange.sendResponseHeaders(200, body.size());
            try (OutputStream out = exchange.getResponseBody()) {
                body.writeTo(out);
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
        super.close();
    }

    /** One user and password, compared in constant time. */
    private static final class SharedLogin extends BasicAuthenticator {
        private final byte[] expected;

        SharedLogin(String user, String password) {
            super(REALM, StandardCharsets.UTF_8);
            expected = (user + ":" + password).getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public boolean checkCredentials(String user, String password) {
            byte[] given = (user + ":" + password).getBytes(StandardCharsets.UTF_8);
            return MessageDigest.isEqual(given, expected);
        }
    }
}
