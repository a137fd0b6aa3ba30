-- wrk: POST the CloudEvents batch in $BODY_FILE as application/cloudevents-batch+json.
local f = assert(io.open(os.getenv("BODY_FILE"), "r"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/cloudevents-batch+json"
