-- wrk script: GET /healthz on a new connection every time (Connection: close), so each
-- request pays for a connection and, over https://, a full TLS handshake.
wrk.method = "GET"
wrk.path = "/healthz"
wrk.headers["Connection"] = "close"
