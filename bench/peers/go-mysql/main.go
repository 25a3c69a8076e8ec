// A peer of Tunnel's binlog source for the benchmark: go-mysql's BinlogSyncer (the replication
// client under go-mysql's canal and go-mysql-transfer) reading a binlog range and counting the row
// changes of one table. BinlogSyncer decodes every row of every rows event into Go values (strings
// for DECIMAL and DATETIME, JSON text for MySQL's binary JSON), as Tunnel's source does.
//
//	gomysql-counter -host 127.0.0.1 -port 3306 -user u -password p -flavor mariadb -server-id 7 \
//	  -from-file bin.000001 -from-pos 4 -end-file bin.000001 -end-pos 123 -table db.t
//
// Protocol with the driver (bench/peers/protocol.ts): one JSON line {"event":"start"} when it begins
// to read, one {"event":"done","rows":...,"ms":...,"ops":{...}} once the commit at (or past) the end
// position arrived; then it waits for its standard input to close, so that the driver can read its
// CPU time and peak RSS from /proc while it is still alive.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

func emit(v map[string]any) {
	line, _ := json.Marshal(v)
	fmt.Println(string(line))
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gomysql-counter: "+format+"\n", args...)
	os.Exit(1)
}

// reached says whether file:pos is at or past end (binlog file names sort in order).
func reached(file string, pos uint32, endFile string, endPos uint32) bool {
	return file > endFile || (file == endFile && pos >= endPos)
}

func main() {
	host := flag.String("host", "127.0.0.1", "server host")
	port := flag.Uint("port", 3306, "server port")
	user := flag.String("user", "", "replication user")
	password := flag.String("password", "", "password")
	flavor := flag.String("flavor", "mysql", "mysql or mariadb")
	serverID := flag.Uint("server-id", 0, "replica server id (unique)")
	fromFile := flag.String("from-file", "", "start binlog file")
	fromPos := flag.Uint("from-pos", 4, "start offset")
	endFile := flag.String("end-file", "", "end binlog file")
	endPos := flag.Uint("end-pos", 0, "end offset: the commit ending at or past it is the last one read")
	table := flag.String("table", "", "schema.table whose row changes are counted")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after")
	flag.Parse()
	if *user == "" || *serverID == 0 || *fromFile == "" || *endFile == "" || *endPos == 0 || !strings.Contains(*table, ".") {
		fail("missing -user, -server-id, -from-file, -end-file, -end-pos or -table (schema.table)")
	}
	wantSchema, wantTable, _ := strings.Cut(*table, ".")

	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: uint32(*serverID),
		Flavor:   *flavor,
		Host:     *host,
		Port:     uint16(*port),
		User:     *user,
		Password: *password,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	defer syncer.Close()

	emit(map[string]any{"event": "start"})
	started := time.Now()
	streamer, err := syncer.StartSync(mysql.Position{Name: *fromFile, Pos: uint32(*fromPos)})
	if err != nil {
		fail("start sync: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	file := *fromFile
	rows, rowsEvents := 0, 0
	ops := map[string]int{"insert": 0, "update": 0, "delete": 0}
	for {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			fail("after %d rows: %v", rows, err)
		}
		switch e := ev.Event.(type) {
		case *replication.RotateEvent:
			file = string(e.NextLogName)
		case *replication.RowsEvent:
			if string(e.Table.Schema) != wantSchema || string(e.Table.Table) != wantTable {
				continue
			}
			rowsEvents++
			switch ev.Header.EventType {
			case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2,
				replication.PARTIAL_UPDATE_ROWS_EVENT, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1:
				rows += len(e.Rows) / 2 // before and after image of each changed row
				ops["update"] += len(e.Rows) / 2
			case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2,
				replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
				rows += len(e.Rows)
				ops["delete"] += len(e.Rows)
			default:
				rows += len(e.Rows)
				ops["insert"] += len(e.Rows)
			}
		case *replication.XIDEvent:
			if reached(file, ev.Header.LogPos, *endFile, uint32(*endPos)) {
				ms := float64(time.Since(started).Microseconds()) / 1000
				emit(map[string]any{"event": "done", "rows": rows, "ms": ms, "rowsEvents": rowsEvents, "ops": ops})
				_, _ = io.Copy(io.Discard, os.Stdin)
				return
			}
		}
	}
}
