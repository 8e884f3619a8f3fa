package dev.lowbit.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class JsonTest {

    private static void assertMalformed(String json, String expectedMessagePart) {
        IllegalArgumentException error = assertThrows("parsing " + json, IllegalArgumentException.class,
                () -> Json.parse(json));
        assertTrue(error.getMessage(), error.getMessage().contains(expectedMessagePart));
    }

    @Test
    public void parsesObjectsInOrderAndNestedValues() {
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("b", Arrays.asList(1L, 2.5, "x", true, false, null));
        expected.put("a", Collections.singletonMap("c", Collections.emptyList()));
        expected.put("e", Collections.emptyMap());
        Object parsed = Json.parse(" {\"b\": [1, 2.5, \"x\", true, false, null],\n\t\"a\": {\"c\": []}, \"e\": {}}\r\n");
        assertEquals(expected, parsed);
        assertEquals(Arrays.asList("b", "a", "e"), Arrays.asList(((Map<?, ?>) parsed).keySet().toArray()));
    }

    @Test
    public void aRepeatedKeyKeepsItsLastValue() {
        assertEquals(Collections.singletonMap("a", 2L), Json.parse("{\"a\": 1, \"a\": 2}"));
    }

    @Test
    public void parsesScalarsAtTopLevel() {
        assertEquals("s", Json.parse("\"s\""));
        assertEquals(Boolean.TRUE, Json.parse("true"));
        assertNull(Json.parse(" null "));
    }

    @Test
    public void integersAreLongsOtherNumbersDoubles() {
        assertEquals(0L, Json.parse("0"));
        assertEquals(-12L, Json.parse("-12"));
        assertEquals(778000L, Json.parse("778000"));
        assertEquals(0.5, Json.parse("0.5"));
        assertEquals(-2.29, Json.parse("-2.29"));
        assertEquals(1000.0, Json.parse("1e3"));
        assertEquals(1000.0, Json.parse("1E+3"));
        assertEquals(0.0125, Json.parse("1.25e-2"));
        assertEquals(1.2345678901234567e19, Json.parse("12345678901234567890"));
    }

    @Test
    public void decodesEscapes() {
        assertEquals("\"\\/\b\f\n\r\t", Json.parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""));
        assertEquals("caf\u00E9", Json.parse("\"caf\\u00e9\""));
        assertEquals("\u00C9", Json.parse("\"\\u00C9\""));
        assertEquals("non-ASCII as is: \u00E9\u20AC", Json.parse("\"non-ASCII as is: \u00E9\u20AC\""));
    }

    @Test
    public void anEscapedSurrogatePairIsOneSupplementaryCharacter() {
        String smile = (String) Json.parse("\"\\ud83d\\ude00\"");
        assertEquals(2, smile.length());
        assertEquals(0x1F600, smile.codePointAt(0));
        assertEquals("\uD83D", Json.parse("\"\\uD83D\""));
    }

    @Test
    public void rejectsMalformedInputNamingThePosition() {
        assertMalformed("", "position 0: unexpected end of input, expected a value");
        assertMalformed("[1,]", "position 3: unexpected character ']'");
        assertMalformed("{\"a\":1,}", "position 7: expected a string key");
        assertMalformed("{\"a\" 1}", "position 5: expected ':' but found '1'");
        assertMalformed("{", "position 1: expected a string key");
        assertMalformed("[1 2]", "position 3: expected ']' but found '2'");
        assertMalformed("[1] 2", "position 4: unexpected text after the JSON value");
        assertMalformed("{'a': 1}", "position 1: expected a string key");
        assertMalformed("{1: 2}", "position 1: expected a string key");
        assertMalformed("\"abc", "position 4: unterminated string");
        assertMalformed("\"tab\there\"", "position 4: raw control character U+0009");
        assertMalformed("\"a\\x\"", "position 2: invalid escape \\x");
        assertMalformed("\"\\u12g4\"", "position 1: invalid \\u escape");
        assertMalformed("\"\\u12\"", "position 1: truncated \\u escape");
        assertMalformed("\"\\u1", "position 1: truncated \\u escape");
        assertMalformed("tru", "position 0: invalid literal, expected true");
        assertMalformed("nul", "position 0: invalid literal, expected null");
        assertMalformed("NaN", "position 0: unexpected character 'N'");
        assertMalformed("01", "position 1: leading zero");
        assertMalformed("-", "position 1: expected a digit");
        assertMalformed("1.", "position 2: expected a digit after the decimal point");
        assertMalformed(".5", "position 0: unexpected character '.'");
        assertMalformed("1e", "position 2: expected a digit in the exponent");
        assertMalformed("+1", "position 0: unexpected character '+'");
        assertMalformed("[1,\u00A02]", "position 3: unexpected character U+00A0");
    }

    @Test
    public void rejectsNestingDeeperThanTheLimit() {
        String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        assertTrue(Json.parse(ok) instanceof List);
        assertMalformed("[".repeat(Json.MAX_DEPTH + 1) + "]".repeat(Json.MAX_DEPTH + 1), "nesting deeper than");
        assertMalformed("[".repeat(100_000), "nesting deeper than");
    }
}
