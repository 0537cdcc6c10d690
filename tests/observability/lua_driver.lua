-- Runs a fluent-bit Lua filter as fluent-bit does: loads the script, then calls the named function
-- with (tag, timestamp, record) for each record of a data file (a Lua chunk returning a list of
-- records), and prints one JSON object per record: {"code": ..., "timestamp": ..., "record": ...}.
-- Usage: luajit lua_driver.lua FILTER.lua FUNCTION RECORDS.lua
local script, func_name, records_file = arg[1], arg[2], arg[3]
dofile(script)
local func = _G[func_name]
local records = dofile(records_file)

local function encode_string(s)
  s = string.gsub(s, '[%c"\\]', function(c)
    local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
    return escapes[c] or string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. s .. '"'
end

local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  for i = 1, n do
    if t[i] == nil then return false end
  end
  return n > 0
end

local function encode(value)
  local kind = type(value)
  if kind == "string" then return encode_string(value) end
  if kind == "number" then return string.format("%.17g", value) end
  if kind == "boolean" then return tostring(value) end
  if kind == "table" then
    local parts = {}
    if is_array(value) then
      for _, inner in ipairs(value) do table.insert(parts, encode(inner)) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local keys = {}
    for key in pairs(value) do table.insert(keys, tostring(key)) end
    table.sort(keys)
    for _, key in ipairs(keys) do
      table.insert(parts, encode_string(key) .. ":" .. encode(value[key]))
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return "null"
end

for _, record in ipairs(records) do
  local code, timestamp, out = func("kube.var.log.containers.test.log", 1733500000.5, record)
  print(encode({ code = code, timestamp = timestamp, record = out }))
end
