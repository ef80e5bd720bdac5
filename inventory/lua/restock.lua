-- restock: change a bucket's stock, never taking away units that are claimed.
-- KEYS[1] pool hash   KEYS[2] sold-out flag
-- ARGV[1] mode: 'set' (make cap = ARGV[2]; one-bucket pools), 'add' (cap += ARGV[2]) or
--         'take' (remove up to ARGV[2] free units; multi-bucket decreases)
-- ARGV[2] units
-- Returns {1, stock, cap, delta} when applied, {0, stock, cap, 0} when it would take claimed
-- units (nothing changed), {-1} when the bucket does not exist.
local st = redis.call('HMGET', KEYS[1], 'stock', 'cap', 'n')
if not st[1] then
  return {-1}
end
local stock, cap = tonumber(st[1]), tonumber(st[2])
local delta = tonumber(ARGV[2])
if ARGV[1] == 'set' then
  delta = delta - cap
elseif ARGV[1] == 'take' then
  delta = -math.min(stock, delta)
end
if stock + delta < 0 then
  return {0, stock, cap, 0}
end
stock, cap = stock + delta, cap + delta
redis.call('HSET', KEYS[1], 'stock', stock, 'cap', cap)
if st[3] == '1' then
  if stock > 0 then
    redis.call('DEL', KEYS[2])
  else
    redis.call('SET', KEYS[2], 1)
  end
end
return {1, stock, cap, delta}
