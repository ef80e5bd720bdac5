-- expire: return the stock of holds whose deadline has passed, at most ARGV[3] of them.
-- KEYS[1] pool hash   KEYS[2] holds zset   KEYS[3] outbox stream   KEYS[4] sold-out flag
-- ARGV[1] pool id   ARGV[2] "now" in ms ('' = Redis server time)   ARGV[3] batch size
-- Returns {expired claim ids...}; fewer than the batch size means none are left due.
local now = now_ms()
local cutoff = now
if ARGV[2] ~= '' then
  cutoff = tonumber(ARGV[2])
end
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', cutoff, 'LIMIT', 0, tonumber(ARGV[3]))
local done = {}
for _, cid in ipairs(due) do
  local rec = redis.call('HGET', KEYS[1], 'c:' .. cid)
  if rec and string.sub(rec, 1, 1) == 'h' then
    give_back(KEYS, ARGV[1], cid, rec, 'e', 'expire', now)
    done[#done + 1] = cid
  else
    redis.call('ZREM', KEYS[2], cid)
  end
end
return done
