-- credit: add lent units to the receiving bucket, at most once per transfer id.
-- KEYS[1] pool hash (receiving bucket)
-- ARGV[1] transfer id   ARGV[2] units
-- Returns 1 when credited now, 0 when this transfer had already been credited.
if redis.call('HSETNX', KEYS[1], 'x:' .. ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('HINCRBY', KEYS[1], 'stock', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'cap', ARGV[2])
return 1
