#!/usr/bin/env bash
# Compiles the app's Java core (dev.lowbit.demo.core, no Android dependencies) and its JUnit 4
# tests with the JDK, then runs the tests on a plain JVM. Works from any directory.
#
#   scripts/jvm-tests.sh
#
# Needs javac/java 17 or newer (Debian: default-jdk-headless) and JUnit 4 with Hamcrest
# (Debian: junit4, which installs /usr/share/java/junit4.jar and hamcrest-core.jar).
# Override the jars with JUNIT_JAR=... HAMCREST_JAR=...
# Output: jvm-build/classes, jvm-build/test-classes (ignored by git). Exit status 0 iff all pass.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

JUNIT_JAR="${JUNIT_JAR:-/usr/share/java/junit4.jar}"
HAMCREST_JAR="${HAMCREST_JAR:-/usr/share/java/hamcrest-core.jar}"

for tool in javac java; do
    if ! command -v "$tool" >/dev/null; then
        echo "jvm-tests: $tool not found; install a JDK 17+ (Debian: apt-get install default-jdk-headless)" >&2
        exit 1
    fi
done
for jar in "$JUNIT_JAR" "$HAMCREST_JAR"; do
    if [[ ! -f "$jar" ]]; then
        echo "jvm-tests: $jar not found; install JUnit 4 (Debian: apt-get install junit4)" \
             "or set JUNIT_JAR / HAMCREST_JAR" >&2
        exit 1
    fi
done

main_src=app/src/main/java/dev/lowbit/demo/core
test_src=app/src/test/java/dev/lowbit/demo/core
classes=jvm-build/classes
test_classes=jvm-build/test-classes

rm -rf jvm-build
mkdir -p "$classes" "$test_classes"

javac --release 17 -Xlint:all -Werror -encoding UTF-8 -d "$classes" "$main_src"/*.java
javac --release 17 -Xlint:all -Werror -encoding UTF-8 -d "$test_classes" \
    -cp "$classes:$JUNIT_JAR:$HAMCREST_JAR" "$test_src"/*.java

test_names=()
for file in "$test_src"/*Test.java; do
    name="$(basename "$file" .java)"
    test_names+=("dev.lowbit.demo.core.$name")
done

java -cp "$test_classes:$classes:$JUNIT_JAR:$HAMCREST_JAR" org.junit.runner.JUnitCore "${test_names[@]}"
