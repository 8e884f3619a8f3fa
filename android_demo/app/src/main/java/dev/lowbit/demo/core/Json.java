package dev.lowbit.demo.core;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A small strict JSON (RFC 8259) parser, enough for {@code model.json}.
 *
 * <p>Values map to Java as: object to {@code Map<String, Object>} (insertion order; a repeated
 * key keeps its last value, like Python's {@code json}), array to {@code List<Object>}, string to
 * {@code String}, number to {@code Long} when written without fraction or exponent and within the
 * range of {@code long}, else {@code Double}, {@code true}/{@code false} to {@code Boolean},
 * {@code null} to {@code null}. {@code \}{@code uXXXX} escapes give UTF-16 units, so an escaped
 * surrogate pair gives its supplementary character.
 *
 * <p>Anything else (trailing commas, comments, single quotes, {@code NaN}, leading zeros, raw
 * control characters in strings, text after the value, nesting deeper than {@value #MAX_DEPTH})
 * is rejected with an {@link IllegalArgumentException} naming the offending position.
 */
public final class Json {

    /** Deepest nesting of arrays and objects accepted, to fail cleanly instead of overflowing the stack. */
    public static final int MAX_DEPTH = 200;

    private final String text;
    private int pos;
    private int depth;

    private Json(String text) {
        this.text = text;
    }

    /** The value {@code text} holds, surrounded by optional whitespace. */
    public static Object parse(String text) {
        Json parser = new Json(text);
        parser.skipWhitespace();
        Object value = parser.value();
        parser.skipWhitespace();
        if (parser.pos < text.length()) {
            throw parser.error("unexpected text after the JSON value");
        }
        return value;
    }

    private Object value() {
        if (pos >= text.length()) {
            throw error("unexpected end of input, expected a value");
        }
        char c = text.charAt(pos);
        switch (c) {
            case '{':
                return object();
            case '[':
                return array();
            case '"':
                return string();
            case 't':
                return literal("true", Boolean.TRUE);
            case 'f':
                return literal("false", Boolean.FALSE);
            case 'n':
                return literal("null", null);
            default:
                if (c == '-' || isDigit(c)) {
                    return number();
                }
                throw error("unexpected character " + describe(c) + ", expected a value");
        }
    }

    private Map<String, Object> object() {
        enter();
        Map<String, Object> members = new LinkedHashMap<>();
        pos++;
        skipWhitespace();
        if (consume('}')) {
            depth--;
            return members;
        }
        do {
            skipWhitespace();
            if (pos >= text.length() || text.charAt(pos) != '"') {
                throw error("expected a string key");
            }
            String key = string();
            skipWhitespace();
            expect(':');
            skipWhitespace();
            members.put(key, value());
            skipWhitespace();
        } while (consume(','));
        expect('}');
        depth--;
        return members;
    }

    private List<Object> array() {
        enter();
        List<Object> elements = new ArrayList<>();
        pos++;
        skipWhitespace();
        if (consume(']')) {
            depth--;
            return elements;
        }
        do {
            skipWhitespace();
            elements.add(value());
            skipWhitespace();
        } while (consume(','));
        expect(']');
        depth--;
        return elements;
    }

    private String string() {
        pos++;
        StringBuilder out = new StringBuilder();
        while (true) {
            if (pos >= text.length()) {
                throw error("unterminated string");
            }
            char c = text.charAt(pos);
            if (c == '"') {
                pos++;
                return out.toString();
            }
            if (c < 0x20) {
                throw error("raw control character " + describe(c) + " in a string");
            }
            if (c == '\\') {
                out.append(escape());
            } else {
                out.append(c);
                pos++;
            }
        }
    }

    /** The character of the escape at {@code pos} (which holds the backslash); moves past it. */
    private char escape() {
        if (pos + 1 >= text.length()) {
            throw error("unterminated escape");
        }
        char c = text.charAt(pos + 1);
        pos += 2;
        switch (c) {
            case '"':
                return '"';
            case '\\':
                return '\\';
            case '/':
                return '/';
            case 'b':
                return '\b';
            case 'f':
                return '\f';
            case 'n':
                return '\n';
            case 'r':
                return '\r';
            case 't':
                return '\t';
            case 'u':
                return unicodeEscape();
            default:
                pos -= 2;
                throw error("invalid escape \\" + c);
        }
    }

    private char unicodeEscape() {
        if (pos + 4 > text.length()) {
            pos -= 2;
            throw error("truncated \\u escape");
        }
        int code = 0;
        for (int i = 0; i < 4; i++) {
            int digit = hexValue(text.charAt(pos + i));
            if (digit < 0) {
                pos -= 2;
                throw error("invalid \\u escape, expected 4 hex digits");
            }
            code = code * 16 + digit;
        }
        pos += 4;
        return (char) code;
    }

    private Object number() {
        int start = pos;
        consume('-');
        if (consume('0')) {
            if (pos < text.length() && isDigit(text.charAt(pos))) {
                throw error("leading zero in a number");
            }
        } else {
            digits("expected a digit");
        }
        boolean integral = true;
        if (consume('.')) {
            integral = false;
            digits("expected a digit after the decimal point");
        }
        if (consume('e') || consume('E')) {
            integral = false;
            if (!consume('+')) {
                consume('-');
            }
            digits("expected a digit in the exponent");
        }
        String literal = text.substring(start, pos);
        if (integral) {
            try {
                return Long.parseLong(literal);
            } catch (NumberFormatException outOfLongRange) {
                return Double.parseDouble(literal);
            }
        }
        return Double.parseDouble(literal);
    }

    private void digits(String whenMissing) {
        if (pos >= text.length() || !isDigit(text.charAt(pos))) {
            throw error(whenMissing);
        }
        while (pos < text.length() && isDigit(text.charAt(pos))) {
            pos++;
        }
    }

    private Object literal(String word, Object value) {
        if (!text.startsWith(word, pos)) {
            throw error("invalid literal, expected " + word);
        }
        pos += word.length();
        return value;
    }

    private void enter() {
        if (++depth > MAX_DEPTH) {
            throw error("nesting deeper than " + MAX_DEPTH);
        }
    }

    private boolean consume(char c) {
        if (pos < text.length() && text.charAt(pos) == c) {
            pos++;
            return true;
        }
        return false;
    }

    private void expect(char c) {
        if (!consume(c)) {
            throw error(pos >= text.length() ? "unexpected end of input, expected '" + c + "'"
                    : "expected '" + c + "' but found " + describe(text.charAt(pos)));
        }
    }

    private void skipWhitespace() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            pos++;
        }
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    /** The value of an ASCII hex digit, -1 for any other character. */
    private static int hexValue(char c) {
        if (isDigit(c)) {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    }

    private static String describe(char c) {
        return c >= 0x20 && c < 0x7F ? "'" + c + "'" : String.format(Locale.ROOT, "U+%04X", (int) c);
    }

    private IllegalArgumentException error(String message) {
        return new IllegalArgumentException("malformed JSON at position " + pos + ": " + message);
    }
}
