package tunnel.bench;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import org.apache.kafka.connect.storage.MemoryOffsetBackingStore;

/**
 * An in-memory offset store that starts out holding one offset: the binlog position (and, on a server
 * with GTIDs, the GTID set executed at that position) where the benchmark's range begins. The
 * engine's offset keys are its JSON-converted [engine name, partition]; any key naming the
 * connector's partition ({"server": prefix}) that holds nothing yet answers the preset offset.
 */
public final class PresetOffsetStore extends MemoryOffsetBackingStore {
  private static String partitionJson;
  private static byte[] offsetJson;
  private static String server;

  static void preset(String serverName, String file, long pos, String gtids) {
    server = serverName;
    partitionJson = "{\"server\":\"" + serverName + "\"}";
    String value = "{\"file\":\"" + file + "\",\"pos\":" + pos + (gtids == null || gtids.isEmpty() ? "" : ",\"gtids\":\"" + gtids + "\"") + "}";
    offsetJson = value.getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public Future<Map<ByteBuffer, ByteBuffer>> get(Collection<ByteBuffer> keys) {
    Map<ByteBuffer, ByteBuffer> out = new HashMap<>();
    for (ByteBuffer key : keys) {
      ByteBuffer stored = data.get(key);
      if (stored != null) {
        out.put(key, stored);
        continue;
      }
      String text = StandardCharsets.UTF_8.decode(key.duplicate()).toString();
      if (partitionJson != null && text.replace(" ", "").contains(partitionJson)) out.put(key, ByteBuffer.wrap(offsetJson));
    }
    return CompletableFuture.completedFuture(out);
  }

  @Override
  public Set<Map<String, Object>> connectorPartitions(String connectorName) {
    return server == null ? Set.of() : Set.of(Map.of("server", server));
  }
}
