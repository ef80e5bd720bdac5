-- soldout_mark: set the pool-wide sold-out flag of a multi-bucket pool, unless stock came back
-- since the caller started looking (compare-and-set on the epoch that soldout_clear bumps).
-- KEYS[1] bucket 0 pool hash   KEYS[2] sold-out flag
-- ARGV[1] epoch the caller read before scanning the buckets   ARGV[2] flag TTL ms
-- Returns 1 when set, 0 when the epoch moved on.
if tostring(redis.call('HGET', KEYS[1], 'epoch') or '0') ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[2], 1, 'PX', ARGV[2])
return 1
