#!/usr/bin/env bash
# Compiles and links the app's resources and manifest with Debian's aapt2 against the API 29
# framework (framework-res.apk), then checks that every R.id / R.string / R.layout the Android
# Java sources use exists in the generated R.java. Works from any directory.
#
#   scripts/check-resources.sh
#
# Needs Debian's packages aapt (/usr/bin/aapt2) and android-framework-res
# (/usr/share/android-framework-res/framework-res.apk). Override with AAPT2=... FRAMEWORK_RES=...
#
# The manifest has no package attribute (AGP takes the package from the Gradle namespace), which a
# standalone aapt2 link requires; the script links a temporary copy of the manifest with
# package="dev.lowbit.demo" added, as AGP does. The real manifest is not changed.
# Exit status 0 iff everything compiles, links and resolves.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

AAPT2="${AAPT2:-/usr/bin/aapt2}"
FRAMEWORK_RES="${FRAMEWORK_RES:-/usr/share/android-framework-res/framework-res.apk}"
PACKAGE=dev.lowbit.demo

if [[ ! -x "$AAPT2" ]]; then
    echo "check-resources: $AAPT2 not found; install it (Debian: apt-get install aapt) or set AAPT2" >&2
    exit 1
fi
if [[ ! -f "$FRAMEWORK_RES" ]]; then
    echo "check-resources: $FRAMEWORK_RES not found; install it (Debian: apt-get install android-framework-res)" \
         "or set FRAMEWORK_RES" >&2
    exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

manifest=app/src/main/AndroidManifest.xml
if grep -q 'package=' "$manifest"; then
    echo "check-resources: $manifest must not have a package attribute (the namespace is in app/build.gradle)" >&2
    exit 1
fi
sed "s|<manifest |<manifest package=\"$PACKAGE\" |" "$manifest" > "$work/AndroidManifest.xml"
grep -q "package=\"$PACKAGE\"" "$work/AndroidManifest.xml"

"$AAPT2" compile --dir app/src/main/res -o "$work/res.zip"
"$AAPT2" link -I "$FRAMEWORK_RES" \
    --manifest "$work/AndroidManifest.xml" \
    --min-sdk-version 24 --target-sdk-version 29 \
    --version-code 1 --version-name 0.1.0 \
    --java "$work/gen" \
    -o "$work/app.apk" "$work/res.zip"

r_java="$work/gen/${PACKAGE//.//}/R.java"
missing=0
while read -r ref; do
    type="${ref%%.*}"
    name="${ref#*.}"
    if ! awk -v type="$type" -v name="$name" '
            $0 ~ "public static final class " type " " { inside = 1; next }
            inside && /^    }/ { inside = 0 }
            inside && $0 ~ " " name "=" { found = 1 }
            END { exit !found }' "$r_java"; then
        echo "check-resources: R.$ref is used in the Java sources but not defined by the resources" >&2
        missing=1
    fi
done < <(grep -ohE '\bR\.(id|string|layout)\.[A-Za-z0-9_]+' app/src/main/java/dev/lowbit/demo/*.java \
             | sed 's/^R\.//' | sort -u)
if [[ "$missing" -ne 0 ]]; then
    exit 1
fi

echo "check-resources: resources and manifest compiled and linked against API 29 framework-res;" \
     "$(grep -ohE '\bR\.(id|string|layout)\.[A-Za-z0-9_]+' app/src/main/java/dev/lowbit/demo/*.java | sort -u | wc -l)" \
     "R references resolved"
