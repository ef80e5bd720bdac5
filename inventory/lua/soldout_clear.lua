-- soldout_clear: stock came back to some bucket of a multi-bucket pool; drop the sold-out flag
-- and bump the epoch so a concurrent soldout_mark based on an older scan fails.
-- KEYS[1] bucket 0 pool hash   KEYS[2] sold-out flag
-- Returns the new epoch (0 when the pool does not exist).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('DEL', KEYS[2])
return epoch
