-- wrk script: POST pre-signed Account Activity deliveries, each one once.
--
-- HMAC-SHA256 is not available to wrk's Lua, so bench/payloads.py writes the
-- deliveries ahead of time to the file named by DMBOT_BENCH_BODIES, one per
-- line: "<x-twitter-webhooks-signature value>\t<json body>". Requests are
-- formatted once in init(); request() only hands out the next one, so the
-- load generator spends its time on the socket, not in Lua. Past the end of
-- the file it starts over (the harness reports when that happened, since
-- repeated DM ids are duplicates for dmbot).
--
-- done() prints one line "BENCH_JSON {...}" with the counts and latency
-- percentiles (microseconds) for bench/run.py.

local requests = {}
local count = 0
local index = 0

function init(args)
   local path = os.getenv("DMBOT_BENCH_BODIES")
   if path == nil then
      error("set DMBOT_BENCH_BODIES to a file of <signature>\\t<body> lines")
   end
   for line in io.lines(path) do
      local tab = line:find("\t", 1, true)
      if tab ~= nil then
         count = count + 1
         requests[count] = wrk.format("POST", nil, {
            ["Content-Type"] = "application/json",
            ["x-twitter-webhooks-signature"] = line:sub(1, tab - 1),
         }, line:sub(tab + 1))
      end
   end
   if count == 0 then
      error("no deliveries in " .. path)
   end
end

function request()
   index = index + 1
   if index > count then
      index = 1
   end
   return requests[index]
end

function done(summary, latency, _)
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
end
