package tunnel.bench;

import io.debezium.embedded.Connect;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;
import io.debezium.engine.format.ChangeEventFormat;
import java.io.IOException;
import java.io.InputStream;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.source.SourceRecord;

/**
 * A peer of Tunnel's binlog source for the benchmark: Debezium's embedded engine with its MySQL or
 * MariaDB connector reading a binlog range, counting the change records of one table (one record per
 * row change, as Kafka Connect SourceRecords with Struct values: what a Debezium application
 * consumes).
 *
 * <p>The start position comes from {@link PresetOffsetStore} (an in-memory offset store holding that
 * one offset) with snapshot.mode=recovery, so the connector rebuilds its in-memory schema history
 * from the current table definitions and then streams from the offset. The connector emits no
 * record for a commit, so the range ends with a one-row insert into a marker table: its record means
 * every change before it has been delivered.
 *
 * <pre>
 * java -cp ... tunnel.bench.DebeziumCounter connector=mysql|mariadb host=127.0.0.1 port=3306 user=u \
 *   password=p serverId=7 database=db table=t marker=t_end file=bin.000001 pos=4 [gtids=uuid:1-10]
 * </pre>
 *
 * Protocol with the driver (bench/lib/peers.ts): {"event":"start"} when the engine starts,
 * {"event":"done",...} when the marker's record arrived; then it waits for its standard input to
 * close so that the driver can read its CPU time and peak RSS from /proc, and exits.
 */
public final class DebeziumCounter {
  private static final String PREFIX = "bench";

  public static void main(String[] argv) throws Exception {
    Map<String, String> args = new HashMap<>();
    for (String a : argv) {
      int eq = a.indexOf('=');
      if (eq > 0) args.put(a.substring(0, eq), a.substring(eq + 1));
    }
    String database = required(args, "database");
    String table = required(args, "table");
    String marker = required(args, "marker");

    PresetOffsetStore.preset(PREFIX, required(args, "file"), Long.parseLong(required(args, "pos")), args.get("gtids"));

    Properties props = new Properties();
    props.setProperty("name", "tunnel-bench-counter");
    String connector = required(args, "connector");
    props.setProperty(
        "connector.class",
        switch (connector) {
          case "mysql" -> "io.debezium.connector.mysql.MySqlConnector";
          case "mariadb" -> "io.debezium.connector.mariadb.MariaDbConnector";
          default -> throw new IllegalArgumentException("connector=" + connector + ": expected mysql or mariadb");
        });
    props.setProperty("offset.storage", PresetOffsetStore.class.getName());
    props.setProperty("offset.flush.interval.ms", "60000");
    props.setProperty("schema.history.internal", "io.debezium.relational.history.MemorySchemaHistory");
    props.setProperty("snapshot.mode", "recovery");
    props.setProperty("snapshot.locking.mode", "none");
    props.setProperty("database.hostname", required(args, "host"));
    props.setProperty("database.port", required(args, "port"));
    props.setProperty("database.user", required(args, "user"));
    props.setProperty("database.password", required(args, "password"));
    props.setProperty("database.server.id", required(args, "serverId"));
    if (connector.equals("mysql")) props.setProperty("database.ssl.mode", "disabled");
    props.setProperty("topic.prefix", PREFIX);
    props.setProperty("database.include.list", database);
    props.setProperty("table.include.list", database + "." + table + "," + database + "." + marker);
    props.setProperty("include.schema.changes", "false");
    props.setProperty("tombstones.on.delete", "false");

    String dataTopic = PREFIX + "." + database + "." + table;
    String markerTopic = PREFIX + "." + database + "." + marker;
    long[] ops = new long[3]; // c, u, d
    long[] other = new long[1];
    long[] rows = new long[1];
    CountDownLatch done = new CountDownLatch(1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    long[] firstRecordNs = new long[] {0};

    DebeziumEngine<RecordChangeEvent<SourceRecord>> engine =
        DebeziumEngine.create(ChangeEventFormat.of(Connect.class))
            .using(props)
            .using((success, message, error) -> {
              if (!success || error != null) failure.compareAndSet(null, error != null ? error : new RuntimeException(message));
              done.countDown();
            })
            .notifying((List<RecordChangeEvent<SourceRecord>> batch, DebeziumEngine.RecordCommitter<RecordChangeEvent<SourceRecord>> committer) -> {
              for (RecordChangeEvent<SourceRecord> event : batch) {
                SourceRecord record = event.record();
                String topic = record.topic();
                if (dataTopic.equals(topic) && record.value() instanceof Struct value) {
                  if (firstRecordNs[0] == 0) firstRecordNs[0] = System.nanoTime();
                  rows[0]++;
                  switch (value.getString("op")) {
                    case "c" -> ops[0]++;
                    case "u" -> ops[1]++;
                    case "d" -> ops[2]++;
                    default -> other[0]++;
                  }
                } else if (markerTopic.equals(topic)) {
                  done.countDown();
                }
                committer.markProcessed(event);
              }
              committer.markBatchFinished();
            })
            .build();

    ExecutorService executor = Executors.newSingleThreadExecutor();
    emit("{\"event\":\"start\"}");
    long started = System.nanoTime();
    executor.execute(engine);
    if (!done.await(10, TimeUnit.MINUTES)) fail("no marker record within 10 minutes; " + rows[0] + " rows counted");
    long ended = System.nanoTime();
    if (failure.get() != null) {
      failure.get().printStackTrace();
      fail("the engine stopped: " + failure.get());
    }
    emit(String.format(
        "{\"event\":\"done\",\"rows\":%d,\"ms\":%.1f,\"firstRecordMs\":%.1f,\"ops\":{\"insert\":%d,\"update\":%d,\"delete\":%d,\"other\":%d}}",
        rows[0], (ended - started) / 1e6, firstRecordNs[0] == 0 ? -1.0 : (firstRecordNs[0] - started) / 1e6, ops[0], ops[1], ops[2], other[0]));
    waitForStdinClose();
    Runtime.getRuntime().halt(0);
  }

  private static void waitForStdinClose() throws IOException {
    InputStream in = System.in;
    byte[] buf = new byte[256];
    while (in.read(buf) >= 0) {
      // the driver closes it once it has read /proc
    }
  }

  private static String required(Map<String, String> args, String key) {
    String v = args.get(key);
    if (v == null || v.isEmpty()) fail("missing argument " + key + "=...");
    return v;
  }

  private static void emit(String line) {
    System.out.println(line);
    System.out.flush();
  }

  private static void fail(String message) {
    System.err.println("debezium-counter: " + message);
    System.err.flush();
    Runtime.getRuntime().halt(1);
  }
}
