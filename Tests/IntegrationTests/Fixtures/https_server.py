"""An HTTPS server on loopback with the test authority's certificate for localhost (the Redis
client's TLS fixtures): GET answers "hello over tls", POST "1" (ClickHouse's SELECT 1). Prints its
port once listening."""
import http.server
import ssl
import sys

CERTIFICATE, KEY = sys.argv[1], sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello over tls"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        # ClickHouse's HTTP interface, as far as the server's start-up `SELECT 1` needs it.
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"1\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(CERTIFICATE, KEY)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
