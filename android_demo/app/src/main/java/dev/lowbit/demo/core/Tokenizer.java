package dev.lowbit.demo.core;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;

/**
 * The text rules of {@code pipeline/data/text.py} ({@code tokenize}), ported exactly; they keep the
 * letters of every script and rest on Unicode properties both languages share.
 *
 * <ol>
 *   <li>The text is put in normalization form NFC ({@link Normalizer}).</li>
 *   <li>An HTML line break becomes a separator: {@code <}, {@code b}/{@code B}, {@code r}/{@code R},
 *       any run of ASCII whitespace (space, TAB, LF, VT, FF, CR), an optional {@code /}, any run of
 *       ASCII whitespace, {@code >}. Breaks are found left to right without overlapping, like
 *       Python's {@code re.sub}.</li>
 *   <li>Every code point is lower-cased by {@link Character#toLowerCase(int)} (the simple mapping).</li>
 *   <li>A code point of a Han, Hiragana or Katakana block ({@link #SINGLE_CHARACTER_RANGES}) is a
 *       token by itself.</li>
 *   <li>Every other token is a maximal run of letters, marks, decimal digits and {@code '}; every
 *       other code point (and a lone surrogate) separates tokens.</li>
 *   <li>Apostrophes are stripped from both ends of a token; tokens that become empty are dropped.</li>
 * </ol>
 *
 * <p>Code points are read as such ({@link String#codePointAt}), so a letter outside the Basic
 * Multilingual Plane is one character, as in Python. Java 17 knows Unicode 13: a character assigned
 * later separates here and may not in Python. A single left-to-right pass after normalization,
 * linear in the length of the text.
 */
public final class Tokenizer {

    /** Inclusive code point ranges whose characters are tokens by themselves (Python's table). */
    static final int[][] SINGLE_CHARACTER_RANGES = {
        {0x3040, 0x309F}, {0x30A0, 0x30FF}, {0x31F0, 0x31FF}, {0x3400, 0x4DBF}, {0x4E00, 0x9FFF},
        {0xF900, 0xFAFF}, {0xFF66, 0xFF9F}, {0x20000, 0x2FA1F}, {0x30000, 0x3134F},
    };

    private Tokenizer() {
    }

    /** The tokens of {@code text} in order; empty for an empty text. Never null. */
    public static List<String> tokenize(String text) {
        text = Normalizer.normalize(text, Normalizer.Form.NFC);
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
            int original = text.codePointAt(i);
            int c = Character.toLowerCase(original);
            if (isSingleCharacter(c)) {
                flush(run, tokens);
                tokens.add(new String(Character.toChars(c)));
            } else if (isWordCharacter(c)) {
                run.appendCodePoint(c);
            } else {
                flush(run, tokens);
            }
            i += Character.charCount(original);
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

    private static boolean isSingleCharacter(int c) {
        for (int[] range : SINGLE_CHARACTER_RANGES) {
            if (c >= range[0] && c <= range[1]) {
                return true;
            }
        }
        return false;
    }

    /** Letters (L*), marks (M*), decimal digits (Nd) of any script, and the ASCII apostrophe. */
    private static boolean isWordCharacter(int c) {
        if (c == '\'') {
            return true;
        }
        switch (Character.getType(c)) {
            case Character.UPPERCASE_LETTER:
            case Character.LOWERCASE_LETTER:
            case Character.TITLECASE_LETTER:
            case Character.MODIFIER_LETTER:
            case Character.OTHER_LETTER:
            case Character.NON_SPACING_MARK:
            case Character.COMBINING_SPACING_MARK:
            case Character.ENCLOSING_MARK:
            case Character.DECIMAL_DIGIT_NUMBER:
                return true;
            default:
                return false;
        }
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
