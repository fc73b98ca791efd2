/**
 * The rule that keeps credentials out of every stored record (request metadata, tags,
 * dimension values, error messages). It is deliberately wide: a false positive costs one
 * metadata key, a false negative leaks a credential into every export and backup.
 *
 * Keys (metadata keys at any depth, and `name=value` / `name: value` pairs inside strings) are
 * compared after normalising to lower snake case (`clientSecret`, `client-secret` and
 * `CLIENT_SECRET` are all `client_secret`). A key is a secret when
 * - it contains `secret`, `password`, `passwd`, `passphrase`, `credential`, `cookie`,
 *   `authorization`, `connection_string`/`connectionstring`, `private_key`/`privatekey` or `apikey`,
 *   or one of its words is `auth`, `pwd`, `creds`, `dsn`, `sas`, `sig` or `signature`;
 * - its last word is `key` or `keys` (`api_key`, `private_key`, `account_key`, `key`);
 * - one of its words contains `token` in the singular (`token`, `access_token`, `refresh_token`,
 *   `aws_session_token`, `id_token`, `csrftoken`), unless the key is a token COUNT: the plural
 *   `tokens` (`max_tokens`, `input_tokens`, `tokens_used`) and keys ending in `_count`, `_limit`,
 *   `_budget`, `_usage`, `_used` (`token_count`, `token_limit`) are counts and are kept.
 * A secret metadata key is dropped with its whole value (so `credentials.key` goes with
 * `credentials`). A secret `name=value` pair inside a string keeps its name, the value becomes
 * `[REDACTED]`.
 *
 * Values (any string) are redacted where they look like a credential whatever their key:
 * `sk-...` (OpenAI, Anthropic), `Bearer ...` and `Basic ...`, connection-string parts
 * (`AccountKey=`, `SharedAccessKey=`, `SharedAccessSignature=`, `Password=`, `Pwd=`, `sig=`),
 * the password of a `scheme://user:password@host` URL, PEM blocks (`-----BEGIN ...`), JWTs
 * (`eyJ...`), AWS access key ids (`AKIA...`, `ASIA...`), Google API keys (`AIza...`), GitHub
 * (`ghp_...`) and Slack (`xox?-...`) tokens.
 *
 * Cost: two linear scans per string of 8 characters or more (formats, then `name=value`
 * pairs, skipped without `=` or `:`); key verdicts are memoised (keys repeat).
 */
export const REDACTED = "[REDACTED]";

const SECRET_SUBSTRING = /secret|passw(or)?d|passphrase|credential|cookie|authorization|connection_?string|private_?key|apikey/;
const SECRET_WORD = new Set(["auth", "pwd", "creds", "dsn", "sas", "sig", "signature"]);
const COUNT_SUFFIX = new Set(["count", "counts", "limit", "limits", "budget", "usage", "used"]);

/** Lower snake case: `clientSecret` / `client-secret` / `Client.Secret` -> `client_secret`. */
function normalizeKey(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_");
}

function judgeKey(key: string): boolean {
  const name = normalizeKey(key);
  if (SECRET_SUBSTRING.test(name)) return true;
  const words = name.split("_").filter(Boolean);
  if (words.length === 0) return false;
  const last = words[words.length - 1];
  if (last === "key" || last === "keys") return true;
  if (words.some((w) => SECRET_WORD.has(w))) return true;
  if (words.some((w) => w.includes("token") && w !== "tokens") && !COUNT_SUFFIX.has(last)) return true;
  return false;
}

const keyVerdicts = new Map<string, boolean>();

/** True when a metadata key (or the name in a `name=value` pair) names a credential. */
export function isSecretKey(key: string): boolean {
  if (key.length > 256) return judgeKey(key);
  let verdict = keyVerdicts.get(key);
  if (verdict === undefined) {
    verdict = judgeKey(key);
    // Bounded: metadata keys repeat, but a hostile application could send endless new ones.
    if (keyVerdicts.size >= 4096) keyVerdicts.clear();
    keyVerdicts.set(key, verdict);
  }
  return verdict;
}

/** A credential after `Bearer`/`Basic`: 16+ characters, or 6+ with a digit or symbol (so "Basic authentication" stays). */
const SCHEME_CREDENTIAL = String.raw`(?:[A-Za-z0-9._~+/=-]{16,}|(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{6,})`;

/** Credentials recognised by their format, wherever they appear. */
const SECRET_FORMAT = new RegExp(
  [
    String.raw`-----BEGIN [A-Z0-9 ]{1,64}-----[\s\S]*?(?:-----END [A-Z0-9 ]{1,64}-----|$)`,
    String.raw`\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`,
    String.raw`\bsk-[A-Za-z0-9_-]{8,}`,
    String.raw`(?<scheme>\b(?:Bearer|Basic)\s+)${SCHEME_CREDENTIAL}`,
    String.raw`\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|\bAIza[0-9A-Za-z_-]{30,}|\bgh[pousr]_[A-Za-z0-9]{20,}|\bxox[abprs]-[A-Za-z0-9-]{10,}`,
    String.raw`(?<userinfo>(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,31}://[^\s/:@]+:)[^\s/@]+(?=@)`,
  ].join("|"),
  "gi",
);

/**
 * `name=value`, `name: value`, `"name": "value"`, `name='value'`: the value is redacted when `name` is a secret
 * key. A name starts only where no name character precedes it, and the lookahead-backreference
 * pair matches it atomically: linear time on hostile input such as `a-a-a-...`.
 */
const PAIR_NAME = /(?<![A-Za-z0-9_.-])(?=(?<name>[A-Za-z][A-Za-z0-9_.-]*))\k<name>(?<sep>["']?\s*[=:]\s*["']?)/g;
/** The value after a secret name, matched where the name ends (sticky). */
const PAIR_VALUE = /(?:(?:Bearer|Basic)\s+)?[^\s"';&,]+/y;
const SCHEME_AT = /(?:Bearer|Basic)\s/y;

/** The string with every credential-looking part replaced by `[REDACTED]`. Never throws. */
export function redactSecrets(text: string): string {
  if (text.length < 8) return text;
  const formatted = text.replace(SECRET_FORMAT, (_match: string, ...args: unknown[]) => {
    const groups = args[args.length - 1] as Record<string, string | undefined>;
    return (groups.scheme ?? groups.userinfo ?? "") + REDACTED;
  });
  if (!formatted.includes("=") && !formatted.includes(":")) return formatted;
  // Names are found first and a value is read only after a secret name; every value is then
  // scanned for names of its own (`token= "refresh_token": "..."`), so the scan stays linear and
  // no pair hides inside another. Overlapping values are redacted as one.
  let out = "";
  let copied = 0;
  PAIR_NAME.lastIndex = 0;
  for (let m = PAIR_NAME.exec(formatted); m !== null; m = PAIR_NAME.exec(formatted)) {
    if (!isSecretKey((m.groups as { name: string }).name)) continue;
    const valueAt = PAIR_NAME.lastIndex;
    // Inside a value already redacted, a value ends where that one does (same stop characters):
    // not reading it again keeps `token=token=token=...` linear.
    SCHEME_AT.lastIndex = valueAt;
    if (valueAt < copied && !SCHEME_AT.test(formatted)) continue;
    PAIR_VALUE.lastIndex = valueAt;
    if (!PAIR_VALUE.test(formatted)) continue;
    const valueEnd = PAIR_VALUE.lastIndex;
    if (valueAt >= copied) out += formatted.slice(copied, valueAt) + REDACTED;
    copied = Math.max(copied, valueEnd);
    PAIR_NAME.lastIndex = valueAt;
  }
  return copied === 0 ? formatted : out + formatted.slice(copied);
}
