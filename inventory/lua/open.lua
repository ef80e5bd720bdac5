-- open: create one bucket of a pool unless it exists (open_pool is idempotent).
-- KEYS[1] pool hash   KEYS[2] sold-out flag (bucket 0 of a one-bucket pool)
-- ARGV[1] cap (this bucket's share of the stock)   ARGV[2] per-member limit
-- ARGV[3] opens_at ms   ARGV[4] closes_at ms   ARGV[5] hold ms (0 = no holds)
-- ARGV[6] bucket count n   ARGV[7] this bucket's index b
-- Returns 1 when created, 0 when the bucket already existed (nothing changed).
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'stock', ARGV[1], 'cap', ARGV[1], 'taken', 0, 'held', 0, 'seq', 0,
           'members', 0, 'limit', ARGV[2], 'opens', ARGV[3], 'closes', ARGV[4], 'closed', 0,
           'hold', ARGV[5], 'n', ARGV[6], 'b', ARGV[7], 'epoch', 0)
if ARGV[6] == '1' and tonumber(ARGV[1]) <= 0 then
  redis.call('SET', KEYS[2], 1)
end
return 1
