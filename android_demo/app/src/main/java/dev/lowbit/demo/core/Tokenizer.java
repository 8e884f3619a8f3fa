package dev.lowbit.demo.core;

import java.util.ArrayList;
import java.util.List;

/**
 * The text rules of {@code pipeline/text.py} ({@code tokenize}), ported exactly.
 *
 * <ol>
 *   <li>An HTML line break becomes a separator: {@code <}, {@code b}/{@code B}, {@code r}/{@code R},
 *       any run of ASCII whitespace (space, TAB, LF, VT, FF, CR), an optional {@code /}, any run of
 *       ASCII whitespace, {@code >}. Breaks are found left to right without overlapping, like
 *       Python's {@code re.sub}.</li>
 *   <li>ASCII {@code A}-{@code Z} are lower-cased; no other character changes.</li>
 *   <li>A token is a maximal run of {@code a}-{@code z}, {@code 0}-{@code 9} and {@code '}; every
 *       other UTF-16 unit separates tokens. Every non-ASCII character is a separator, so iterating
 *       UTF-16 units (Java) and code points (Python) gives the same tokens.</li>
 *   <li>Apostrophes are stripped from both ends of a token; tokens that become empty are dropped.</li>
 * </ol>
 *
 * <p>A single left-to-right pass, linear in the length of the text.
 */
public final class Tokenizer {

    private Tokenizer() {
    }

    /** The tokens of {@code text} in order; empty for an empty text. Never null. */
    public static List<String> tokenize(String text) {
        List<String> tokens = new ArrayList<>();
        StringBuilder run = new StringBuilder();
        int i = 0;
        while (i < text.length()) {
            int breakEnd = htmlBreakEnd(text, i);
            if (breakEnd > i) {
                flush(run, tokens);
                i = breakEnd;
                continue;
            }
            char c = lowerAscii(text.charAt(i));
            if (isTokenChar(c)) {
                run.append(c);
            } else {
                flush(run, tokens);
            }
            i++;
        }
        flush(run, tokens);
        return tokens;
    }

    /**
     * The index just past the HTML line break starting at {@code start}, or {@code start} when none
     * starts there. Scanning greedily is exact: backtracking cannot produce another match because
     * the only non-whitespace characters the pattern accepts are one {@code /} and the final
     * {@code >}.
     */
    private static int htmlBreakEnd(String text, int start) {
        int n = text.length();
        if (start + 2 >= n || text.charAt(start) != '<'
                || !isEither(text.charAt(start + 1), 'b', 'B') || !isEither(text.charAt(start + 2), 'r', 'R')) {
            return start;
        }
        int i = skipAsciiWhitespace(text, start + 3);
        if (i < n && text.charAt(i) == '/') {
            i = skipAsciiWhitespace(text, i + 1);
        }
        return i < n && text.charAt(i) == '>' ? i + 1 : start;
    }

    private static boolean isEither(char c, char lower, char upper) {
        return c == lower || c == upper;
    }

    private static int skipAsciiWhitespace(String text, int i) {
        while (i < text.length() && isAsciiWhitespace(text.charAt(i))) {
            i++;
        }
        return i;
    }

    /** Python's {@code [ \t\n\v\f\r]}: space, TAB, LF, VT (U+000B), FF, CR. */
    private static boolean isAsciiWhitespace(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\u000B' || c == '\f' || c == '\r';
    }

    private static char lowerAscii(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c + ('a' - 'A')) : c;
    }

    private static boolean isTokenChar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'';
    }

    /** Adds the run, apostrophes stripped from both ends, to {@code tokens} unless empty; clears it. */
    private static void flush(StringBuilder run, List<String> tokens) {
        int from = 0;
        int to = run.length();
        while (from < to && run.charAt(from) == '\'') {
            from++;
        }
        while (to > from && run.charAt(to - 1) == '\'') {
            to--;
        }
        if (from < to) {
            tokens.add(run.substring(from, to));
        }
        run.setLength(0);
    }
}
