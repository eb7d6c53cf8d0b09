-- One wrk script for every bench scenario; bench/harness/wrk.py configures it through the environment.
--   BENCH_METHOD       GET or POST
--   BENCH_HEADERS      "Name: value" lines
--   BENCH_BODY         the request body (fixed scenarios)
--   BENCH_FORM_PREFIX  token issuance: the form up to "client_assertion="
--   BENCH_ASSERTIONS   token issuance: a file of pre-signed assertions, one per line, each used once
--   BENCH_THREADS      wrk's thread count (thread i sends the assertions whose index is i modulo it)
-- done() prints one line, "BENCH_RESULT {json}", that bench/harness/wrk.py reads.

local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local form_prefix = os.getenv("BENCH_FORM_PREFIX") or ""
local assertions_file = os.getenv("BENCH_ASSERTIONS")
local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")

local headers = {}
for line in (os.getenv("BENCH_HEADERS") or ""):gmatch("[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  headers[name] = value
end
if body == "" then
  body = nil
end

local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local fixed
local assertions = {}
local cursor = 1

function init(args)
  fixed = wrk.format(method, nil, headers, body)
  if assertions_file then
    local index = 0
    for line in io.lines(assertions_file) do
      if index % thread_count == id then
        assertions[#assertions + 1] = line
      end
      index = index + 1
    end
  end
end

function request()
  if not assertions_file then
    return fixed
  end
  local assertion = assertions[cursor]
  if assertion == nil then
    -- Out of single-use assertions: stop rather than send a replay (bench/run.py reports it).
    wrk.thread:stop()
    assertion = assertions[#assertions]
  end
  cursor = cursor + 1
  return wrk.format(method, nil, headers, form_prefix .. assertion)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "socket_errors": %d, "non_2xx": %d, ' ..
    '"p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
