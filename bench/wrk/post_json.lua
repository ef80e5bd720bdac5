-- wrk script: POST a different JSON body per request, taken in turn from a file of bodies (one
-- per line; each thread takes its own lines, so a body is sent at most once while the file lasts).
-- Counts statuses and prints one JSON line at the end.
-- usage: wrk -t THREADS -s post_json.lua URL -- BODIES_FILE THREADS
-- (a thread may start before the next one is set up, so the count comes as an argument)
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  nthreads = tonumber(args[2]) or 1
  bodies = {}
  local n = 0
  for line in io.lines(args[1]) do
    if n % nthreads == id then bodies[#bodies + 1] = line end
    n = n + 1
  end
  counter = 0
  statuses = {}
end

function request()
  counter = counter + 1
  local body = bodies[((counter - 1) % #bodies) + 1]
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, count in pairs(s) do merged[code] = (merged[code] or 0) + count end
  end
  local parts = {}
  for code, count in pairs(merged) do parts[#parts + 1] = '"' .. code .. '":' .. count end
  io.write(string.format(
    'WRK_JSON {"requests":%d,"seconds":%.3f,"p50_ms":%.2f,"p99_ms":%.2f,"errors":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, ",")))
end
