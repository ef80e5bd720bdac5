-- wrk script: authenticated GETs, a different member token per request; counts statuses and
-- prints one JSON line at the end.
-- usage: wrk -s get_auth.lua URL -- TOKENS_FILE [IF_NONE_MATCH]   (card_no,token lines)
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  tokens = {}
  for raw in io.lines(args[1]) do
    local line = raw:gsub("\r$", "")
    local card, token = line:match("^([^,]+),([^,]+)$")
    if token and card ~= "card_no" then tokens[#tokens + 1] = token end
  end
  etag = args[2]
  counter = id * 1000003
  statuses = {}
end

function request()
  counter = counter + 1
  local headers = { ["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1] }
  if etag and etag ~= "" then headers["If-None-Match"] = etag end
  return wrk.format("GET", nil, headers)
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
