# Shared helpers for the scripts/oauth2 tools (sourced, not run). Needs curl, openssl, python3.
# shellcheck shell=bash

GATEHOUSE_URL="${GATEHOUSE_URL:-http://127.0.0.1:8000}"
GATEHOUSE_URL="${GATEHOUSE_URL%/}"

die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
step() { printf '\n== %s\n' "$*" >&2; }
ok() { printf '   ok: %s\n' "$*" >&2; }

# json_get FILE KEY -> prints the value (strings raw, others as JSON); fails if the key is absent.
json_get() {
  python3 - "$1" "$2" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
value = data[sys.argv[2]]
print(value if isinstance(value, str) else json.dumps(value))
PY
}

# json_has FILE KEY -> exit status 0 when FILE holds a JSON object with KEY.
json_has() {
  python3 - "$1" "$2" <<'PY' 2>/dev/null
import json, sys
sys.exit(0 if sys.argv[2] in json.load(open(sys.argv[1])) else 1)
PY
}

# query_get URL KEY -> one query parameter of URL (empty when absent).
query_get() {
  python3 - "$1" "$2" <<'PY'
import sys
from urllib.parse import parse_qs, urlsplit
print(parse_qs(urlsplit(sys.argv[1]).query).get(sys.argv[2], [""])[0])
PY
}

# urlencode K V [K V ...] -> an application/x-www-form-urlencoded string.
urlencode() {
  python3 - "$@" <<'PY'
import sys
from urllib.parse import urlencode
args = sys.argv[1:]
print(urlencode(list(zip(args[0::2], args[1::2]))))
PY
}

# b64url -> base64url without padding, from stdin bytes.
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# new_pkce -> sets CODE_VERIFIER (43 chars of 32 random bytes) and CODE_CHALLENGE (S256).
new_pkce() {
  CODE_VERIFIER="$(openssl rand 32 | b64url)"
  CODE_CHALLENGE="$(printf '%s' "$CODE_VERIFIER" | openssl dgst -sha256 -binary | b64url)"
}

# next_form HTML_FILE USERNAME PASSWORD -> "KIND\nACTION\nBODY" for the sign-in (KIND=login)
# or consent (KIND=consent) form on the page.
next_form() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys
from html.parser import HTMLParser
from urllib.parse import urlencode

class Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []
    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"attrs": a, "fields": {}})
        elif tag == "input" and self.forms and a.get("name") and a.get("type") != "submit":
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")

parser = Forms()
parser.feed(open(sys.argv[1], encoding="utf-8").read())
for form in parser.forms:
    fields = form["fields"]
    if "password" in fields:
        fields.update(username=sys.argv[2], password=sys.argv[3])
        kind = "login"
    elif form["attrs"].get("id") == "consent-form":
        fields["decision"] = "allow"
        kind = "consent"
    else:
        continue
    print(kind)
    print(form["attrs"].get("action", ""))
    print(urlencode(fields))
    sys.exit(0)
sys.exit("no sign-in or consent form on the page")
PY
}

# json_check FILE PYTHON_EXPR -> exit 0 when the expression is true for d = the parsed JSON
# (the environment is available as env). Used for the scripts' own assertions.
json_check() {
  python3 - "$1" "$2" <<'PY' 2>/dev/null
import json, os, sys
d = json.load(open(sys.argv[1]))
env = os.environ
sys.exit(0 if eval(sys.argv[2], {"d": d, "env": env}) else 1)
PY
}

# absolute BASE LOCATION -> LOCATION resolved against BASE (Location headers may be relative).
absolute() {
  python3 - "$1" "$2" <<'PY'
import sys
from urllib.parse import urljoin
print(urljoin(sys.argv[1], sys.argv[2]))
PY
}

# flask_cli ARGS... -> `flask --app app ARGS` from the repository root, with its .venv if present.
flask_cli() {
  local root python
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  python="${PYTHON:-$root/.venv/bin/python}"
  [ -x "$python" ] || python=python3
  (cd "$root" && "$python" -m flask --app app "$@")
}
