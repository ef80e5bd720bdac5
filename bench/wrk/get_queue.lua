-- wrk script: the waiting room's status call as a client that sends back its place ticket
-- (Queue-Place), a different member per request; counts statuses, prints one JSON line.
-- usage: wrk -s get_queue.lua URL -- FILE   (card_no,token,place_ticket lines: sends Queue-Place)
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  tokens, tickets = {}, {}
  for raw in io.lines(args[1]) do
    local line = raw:gsub("\r$", "")
    local card, token, ticket = line:match("^([^,]+),([^,]+),([^,]+)$")
    if ticket and card ~= "card_no" then
      tokens[#tokens + 1] = token
      tickets[#tickets + 1] = ticket
    end
  end
  counter = id * 1000003
  statuses = {}
end

function request()
  counter = counter + 1
  local i = (counter % #tokens) + 1
  local headers = { ["Authorization"] = "Bearer " .. tokens[i], ["Queue-Place"] = tickets[i] }
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
