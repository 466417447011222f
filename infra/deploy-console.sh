#!/usr/bin/env bash
# Publishes the agent console of a deployed Docket stack: builds web/, writes the console's
# /config.json from the stack's outputs (Cognito domain, app client, the distribution's address),
# uploads both to the console bucket and invalidates what is not content-hashed.
#
#   infra/deploy-console.sh [options] STACK_NAME      (or DOCKET_STACK=STACK_NAME)
#
#   --skip-build   upload web/dist as it is (built before)
#   --dist DIR     upload DIR instead of web/dist (a build made elsewhere; implies --skip-build)
#
# Needs the AWS CLI with credentials for the stack's account and region (AWS_PROFILE, AWS_REGION
# as usual), node and npm. Run it after every `sam deploy` that changed the console's resources
# and whenever the web app changed. See infra/README.md (Agent console).
set -euo pipefail

usage() {
  sed -n '5,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

stack="${DOCKET_STACK:-}"
build=1
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dist="$root/web/dist"

while [ $# -gt 0 ]; do
  case "$1" in
    --skip-build) build=0 ;;
    --dist)
      [ $# -ge 2 ] || { echo "--dist needs a directory" >&2; exit 2; }
      dist="$(cd "$2" && pwd)"
      build=0
      shift
      ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    *) stack="$1" ;;
  esac
  shift
done
if [ -z "$stack" ]; then
  usage >&2
  exit 2
fi

# One output of the stack; fails when the stack has no such output.
output() {
  local value
  value="$(aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue | [0]" --output text)"
  if [ -z "$value" ] || [ "$value" = "None" ]; then
    echo "stack $stack has no output $1: deploy template.yaml with the console's resources first" >&2
    return 1
  fi
  printf '%s' "$value"
}

bucket="$(output ConsoleBucketName)"
distribution="$(output ConsoleDistributionId)"
console_url="$(output ConsoleUrl)"
auth_domain="$(output UserPoolDomainUrl)"
client_id="$(output ConsoleClientId)"
portal_client_id="$(output PortalClientId)"
region="$(aws cloudformation describe-stacks --stack-name "$stack" --query 'Stacks[0].StackId' --output text | cut -d: -f4)"
echo "stack $stack: console $console_url, bucket $bucket, distribution $distribution"

if [ "$build" = 1 ]; then
  (cd "$root/web" && npm ci && npm run build)
fi
if [ ! -f "$dist/index.html" ] || [ ! -f "$dist/portal.html" ] || [ ! -d "$dist/assets" ]; then
  echo "$dist has no index.html and assets/: build the console first (cd web && npm ci && npm run build)" >&2
  exit 1
fi

# The console reads /config.json at start. It is written here, not into dist/: locally the docket
# binary serves web/dist with its own configuration.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
node -e '
const [domain, clientId, redirectUri, region, portalClientId] = process.argv.slice(1);
const config = {
  auth: "cognito",
  api: "/api",
  cognito: { domain, client_id: clientId, redirect_uri: redirectUri, scopes: ["openid", "email", "profile"] },
  // The customer portal signs in with a mailed one-time code through the regional endpoint of the pool.
  portal_cognito: { region, client_id: portalClientId },
};
process.stdout.write(JSON.stringify(config, null, 2) + "\n");
' "$auth_domain" "$client_id" "$console_url" >"$tmp/config.json"
cat "$tmp/config.json"

s3="s3://$bucket"
# 1. Content-hashed assets first, so that the new index.html never names a file not there yet.
#    Nothing is deleted: pages already open keep loading the files of the release they started
#    with (see infra/README.md for removing old ones).
aws s3 sync "$dist/assets" "$s3/assets" --size-only --only-show-errors \
  --cache-control "public,max-age=31536000,immutable"
# 2. Any other file at the top (none today), revalidated on every use.
aws s3 sync "$dist" "$s3" --only-show-errors \
  --exclude "assets/*" --exclude "index.html" --exclude "portal.html" --exclude "config.json" \
  --cache-control "no-cache"
# 3. The configuration, then the page that loads everything else.
aws s3 cp "$tmp/config.json" "$s3/config.json" --only-show-errors \
  --cache-control "no-cache" --content-type "application/json; charset=utf-8"
aws s3 cp "$dist/index.html" "$s3/index.html" --only-show-errors \
  --cache-control "no-cache" --content-type "text/html; charset=utf-8"
aws s3 cp "$dist/portal.html" "$s3/portal.html" --only-show-errors \
  --cache-control "no-cache" --content-type "text/html; charset=utf-8"

# CloudFront revalidates both on every request already (the documents' cache policy); the
# invalidation drops whatever an edge still holds from before, e.g. a first upload without
# Cache-Control. Every console page (/, /anything) is looked up as /index.html.
invalidation="$(aws cloudfront create-invalidation --distribution-id "$distribution" \
  --paths /index.html /portal.html /config.json --query Invalidation.Id --output text)"
echo "invalidation $invalidation of /index.html, /portal.html and /config.json requested"

# Large attachments go from the browser straight to the attachments bucket, whose CORS allows
# only the origins of the AttachmentOrigins parameter.
origin="${console_url%/}"
origins="$(aws cloudformation describe-stacks --stack-name "$stack" \
  --query "Stacks[0].Parameters[?ParameterKey=='AttachmentOrigins'].ParameterValue | [0]" --output text)"
case ",$origins," in
  *",$origin,"*) ;;
  *) echo "note: the AttachmentOrigins parameter does not name $origin: large attachments cannot go from the console to the bucket until it does (add it, then sam deploy)" >&2 ;;
esac

echo "console published: $console_url (customer portal: ${console_url%/}/portal/)"
