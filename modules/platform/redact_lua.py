"""fluent-bit's PII redaction filter, in Lua: the script the platform ships in a ConfigMap and
fluent-bit runs on every record before it leaves the node (see :mod:`modules.platform.log_pipeline`).

Kept as a Python string so that constructs read no file (tests/synth/test_stacks_compose.py);
tests/observability/test_redaction.py writes it out and runs it with LuaJIT, exactly as shipped.
"""

REDACT_LUA = r"""-- PII redaction for fluent-bit's lua filter (NFR-OBS1): runs on every container log record on the
-- node, after the kubernetes filter and before any output, so nothing below leaves the node as logged.
--
-- What is replaced, in every string of the record (the raw `log` line and every field parsed from
-- it, at any depth):
--   e-mail addresses                        -> [email]
--   bearer tokens (Authorization values)    -> Bearer [redacted]
--   API keys and secrets given by name      -> name=[redacted]  (api_key=..., "token": "...", ...)
--   well-known key formats                  -> [redacted]       (AWS access key ids, GitHub tokens, JWTs)
--   passwords in URLs                       -> scheme://user:[redacted]@host
--   card-like numbers (13-19 digits, spaces or dashes between, Luhn-valid) -> [card]
-- and the whole value of a field whose name says it holds a secret (password, token, api_key, ...).
--
-- Written for LuaJIT (fluent-bit's Lua: Lua 5.1 patterns, no goto, no integer division), and runs
-- as is on Lua 5.4. Entry point: `redact(tag, timestamp, record)`, fluent-bit's filter signature;
-- it returns 2 (record changed, timestamp kept) or 0 (unchanged).

local REDACTED = "[redacted]"

-- Field and parameter names whose values are secrets (compared in lower case, '-' read as '_').
local SECRET_NAMES = {
  "password", "passwd", "pwd", "secret", "client_secret", "token", "access_token", "refresh_token",
  "id_token", "api_key", "apikey", "x_api_key", "api_token", "auth_token", "private_key",
  "authorization", "cookie", "set_cookie", "session", "session_id",
}
local SECRET_SET = {}
for _, name in ipairs(SECRET_NAMES) do SECRET_SET[name] = true end

local function normalized(name)
  return (string.gsub(string.lower(name), "%-", "_"))
end

-- A Lua pattern matching `word` in any letter case ("[Tt][Oo][Kk]..."), '_' also matching '-' or nothing.
local function any_case(word)
  return (string.gsub(word, "(.)", function(c)
    if c == "_" then return "[_%-]?" end
    if string.match(c, "%a") then return "[" .. string.upper(c) .. string.lower(c) .. "]" end
    return "%" .. c
  end))
end

local NAMED_SECRET_PATTERNS = {}
for _, name in ipairs(SECRET_NAMES) do
  -- name, optional closing quote, ':' or '=', optional opening quote, then the value up to a delimiter
  -- (quotes may be escaped: a JSON object logged inside a JSON string reads \"apiKey\": \"...\").
  -- %f[%w] keeps "monkey=..." from matching "key"; a value starting with '[' is one already redacted.
  table.insert(NAMED_SECRET_PATTERNS,
    "(%f[%w]" .. any_case(name) .. "\\?[\"']?%s*[:=]%s*\\?[\"']?)[^%s\"'&,;}%[%]\\]+")
end

local function luhn_valid(digits)
  local sum, double = 0, false
  for i = #digits, 1, -1 do
    local d = string.byte(digits, i) - 48
    if double then
      d = d * 2
      if d > 9 then d = d - 9 end
    end
    sum = sum + d
    double = not double
  end
  return sum % 10 == 0
end

local function card_or_kept(run)
  local digits = string.gsub(run, "[^%d]", "")
  if #digits >= 13 and #digits <= 19 and luhn_valid(digits) then
    return "[card]"
  end
  return run
end

local function redact_string(s)
  local out = s
  -- Passwords in URLs first: scheme://user:password@host.
  out = string.gsub(out, "(%a[%w+.%-]*://[^:/%s@]*):[^@/%s]+@", "%1:" .. REDACTED .. "@")
  out = string.gsub(out, "[Bb][Ee][Aa][Rr][Ee][Rr]%s+[%w%-%._~%+/]+=*", "Bearer " .. REDACTED)
  for _, pattern in ipairs(NAMED_SECRET_PATTERNS) do
    out = string.gsub(out, pattern, "%1" .. REDACTED)
  end
  -- AWS access key ids, GitHub tokens, JSON Web Tokens.
  out = string.gsub(out, "%f[%w]A[KS]IA" .. string.rep("[%u%d]", 16) .. "%f[^%w]", REDACTED)
  out = string.gsub(out, "%f[%w]gh[pousr]_%w%w%w%w%w%w%w%w%w%w%w%w%w%w%w%w%w%w%w%w[%w]*", REDACTED)
  out = string.gsub(out, "%f[%w]eyJ[%w_%-]+%.[%w_%-]+%.[%w_%-]+", REDACTED)
  out = string.gsub(out, "[%w._%%+%-]+@[%w%-]+%.[%w.%-]*%a", "[email]")
  -- Card numbers as printed (4-4-4-1..7 and Amex's 4-6-5, spaces or dashes), then as one run of digits.
  out = string.gsub(out, "%f[%d]%d%d%d%d[ %-]%d%d%d%d[ %-]%d%d%d%d[ %-]%d%d?%d?%d?%d?%d?%d?%f[^%d]", card_or_kept)
  out = string.gsub(out, "%f[%d]%d%d%d%d[ %-]%d%d%d%d%d%d[ %-]%d%d%d%d%d%f[^%d]", card_or_kept)
  out = string.gsub(out, "%f[%d]%d+%f[^%d]", card_or_kept)
  return out
end

local function redact_value(value, depth)
  local kind = type(value)
  if kind == "string" then
    return redact_string(value)
  end
  if kind == "table" and depth < 32 then
    local changed = {}
    for key, inner in pairs(value) do
      if type(key) == "string" and SECRET_SET[normalized(key)] and type(inner) ~= "table" then
        changed[key] = REDACTED
      else
        changed[key] = redact_value(inner, depth + 1)
      end
    end
    return changed
  end
  return value
end

local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then
    return a == b
  end
  for key, inner in pairs(a) do
    if not same(inner, b[key]) then return false end
  end
  return true
end

function redact(tag, timestamp, record)
  local result = redact_value(record, 0)
  if same(record, result) then
    return 0, timestamp, record
  end
  return 2, timestamp, result
end
"""
