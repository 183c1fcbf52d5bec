"""Stands in for the GeoIP download endpoint on loopback: GET / answers the brotli-compressed
database with the headers the original read (Content-Type, Content-Disposition with a dated name);
GET /ready answers 200 for start-up polling. Each download appends a line to the log file."""
import datetime
import http.server
import sys

PORT, DATABASE, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/ready":
            self.send_response(200)
            self.end_headers()
            return
        with open(DATABASE, "rb") as database:
            body = database.read()
        with open(LOG, "a") as log:
            log.write(f"{self.path} {self.headers.get('Accept-Encoding', '')}\n")
        name = f"GeoLite2-City-{datetime.date.today().isoformat()}.mmdb"
        self.send_response(200)
        self.send_header("Content-Type", "vnd.maxmind.maxmind-db")
        self.send_header("Content-Disposition", f'attachment; filename="{name}"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
