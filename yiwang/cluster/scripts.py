"""The two atomic Lua scripts of the coordination layer; the key layout is in yiwang/cluster/coordination.py."""

# KEYS: lease, state, shares, claimed, lastclaim. ARGV: member, epoch the caller holds, slot.
# Returns {"ok", epoch, JSON list of granted keys} or {"lease", ""} or {"epoch", current epoch}. A key is granted
# only when its last claimed slot is older than this one, and the claim is recorded, so a key is never granted twice
# in a slot even when the assignment moved it mid-slot.
CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'lease', ''} end
local current = redis.call('HGET', KEYS[2], 'epoch')
if not current or tonumber(current) ~= tonumber(ARGV[2]) then return {'epoch', current or '0'} end
local slot = tonumber(ARGV[3])
local granted = {}
local raw = redis.call('HGET', KEYS[3], ARGV[1])
if raw then
  for _, key in ipairs(cjson.decode(raw)) do
    local last = tonumber(redis.call('HGET', KEYS[4], key) or '-1')
    if last < slot then
      redis.call('HSET', KEYS[4], key, ARGV[3])
      granted[#granted + 1] = key
    end
  end
end
redis.call('HSET', KEYS[5], ARGV[1], ARGV[3])
-- one JSON string, not a list: a reply of 800 bulk strings costs redis-py's parser tens of milliseconds
return {'ok', current, cjson.encode(granted)}
"""

# KEYS: state, shares. ARGV: expected epoch, leader, live JSON, draining JSON, counts JSON, now ms, then pairs of
# member and its keys as JSON. Compare-and-set on the epoch: of two would-be leaders racing, one writes.
PUBLISH = """
local current = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
if current ~= tonumber(ARGV[1]) then return -1 end
local epoch = current + 1
redis.call('DEL', KEYS[2])
for i = 7, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'epoch', epoch, 'leader', ARGV[2], 'live', ARGV[3], 'draining', ARGV[4],
           'counts', ARGV[5], 'at_ms', ARGV[6])
return epoch
"""
