package dev.lowbit.demo.core;

import static org.junit.Assert.assertEquals;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.junit.Test;

/** Expected values were checked against {@code pipeline.text.tokenize}, the Python reference. */
public class TokenizerTest {

    private static void assertTokens(String text, String... expected) {
        assertEquals("tokens of " + text, Arrays.asList(expected), Tokenizer.tokenize(text));
    }

    @Test
    public void lowerCasesAndSplitsOnPunctuationAndSpace() {
        assertTokens("Hello, World!", "hello", "world");
        assertTokens("wow!!!...really???", "wow", "really");
        assertTokens("a-b_c.d", "a", "b", "c", "d");
        assertTokens("I loved it!<br /><br />The acting was great, 10/10.",
                "i", "loved", "it", "the", "acting", "was", "great", "10", "10");
    }

    @Test
    public void htmlBreakVariantsSeparateTokens() {
        for (String br : new String[] {"<br>", "<br/>", "<br />", "<BR/>", "<Br >", "<bR>", "<br\t/\n>",
                "<br\u000B/\f\r>", "<br   >", "<br/ >", "<br \r\n/\t>"}) {
            assertTokens("good" + br + "bad", "good", "bad");
        }
        assertTokens("x<br>", "x");
        assertTokens("<br>x<BR>", "x");
        assertTokens("a<<br>>b", "a", "b");
        assertTokens("<br><br/><br />");
    }

    @Test
    public void nearMissesOfHtmlBreaksAreOrdinaryText() {
        assertTokens("a<br\u00A0/>b", "a", "br", "b");
        assertTokens("a<br\u2028>b", "a", "br", "b");
        assertTokens("a<br\u0085>b", "a", "br", "b");
        assertTokens("a<br\u001C>b", "a", "br", "b");
        assertTokens("a<b r>b", "a", "b", "r", "b");
        assertTokens("a<br//>b", "a", "br", "b");
        assertTokens("a<br / / >b", "a", "br", "b");
        assertTokens("a<brx>b", "a", "brx", "b");
        assertTokens("a<p>b", "a", "p", "b");
        assertTokens("<br", "br");
        assertTokens("<br /", "br");
        assertTokens("a<\uFF42r>b", "a", "\uFF42r", "b"); // a fullwidth b is a letter, not a break
    }

    @Test
    public void apostrophesAreStrippedAtTheEndsOnly() {
        assertTokens("don't", "don't");
        assertTokens("'quoted'", "quoted");
        assertTokens("''");
        assertTokens("' ' '");
        assertTokens("rock'n'roll", "rock'n'roll");
        assertTokens("'''a''b'''", "a''b");
        assertTokens("students' work", "students", "work");
        assertTokens("DON'T", "don't");
        assertTokens("don\u2019t", "don", "t");
    }

    @Test
    public void digitsAreTokenCharacters() {
        assertTokens("The 2 best of 1999, 10/10", "the", "2", "best", "of", "1999", "10", "10");
        assertTokens("3D", "3d");
        assertTokens("007's", "007's");
    }

    @Test
    public void lettersOfEveryScriptAreKeptAndLowerCased() {
        assertTokens("Caf\u00E9 au lait", "caf\u00E9", "au", "lait");
        assertTokens("\u00C9T\u00C9 na\u00EFve stra\u00DFe", "\u00E9t\u00E9", "na\u00EFve", "stra\u00DFe");
        assertTokens("\u041F\u0440\u0438\u0432\u0435\u0442, \u043C\u0438\u0440!", "\u043F\u0440\u0438\u0432\u0435\u0442", "\u043C\u0438\u0440");
        assertTokens("\u0939\u093F\u0928\u094D\u0926\u0940", "\u0939\u093F\u0928\u094D\u0926\u0940"); // vowel signs are marks
        assertTokens("\u0661\u0662 12", "\u0661\u0662", "12"); // Arabic-Indic digits
        assertTokens("\uFF21\uFF22\uFF23", "\uFF41\uFF42\uFF43"); // fullwidth letters
    }

    @Test
    public void simpleLowerCaseMappingsOnly() {
        assertTokens("\u0130stanbul", "istanbul"); // not i + combining dot
        assertTokens("\u039F\u0394\u039F\u03A3", "\u03BF\u03B4\u03BF\u03C3"); // no final sigma
        assertTokens("\u212Aelvin", "kelvin");
        assertTokens("\u1E9E", "\u00DF");
    }

    @Test
    public void decomposedTextIsComposedFirst() {
        assertEquals(Tokenizer.tokenize("caf\u00E9"), Tokenizer.tokenize("cafe\u0301"));
    }

    @Test
    public void hanAndKanaCharactersAreTokensByThemselves() {
        assertTokens("\u79C1\u306F\u30B3\u30FC\u30D2\u30FC", "\u79C1", "\u306F", "\u30B3", "\u30FC", "\u30D2", "\u30FC");
        assertTokens("ab\u4E2Dcd", "ab", "\u4E2D", "cd");
        assertTokens("\uD840\uDC00x", "\uD840\uDC00", "x"); // U+20000, outside the BMP
    }

    @Test
    public void surrogatesAndEmojiSeparate() {
        assertTokens("great\uD83D\uDE00movie", "great", "movie");
        assertTokens("a\uD83Db", "a", "b");
        assertTokens("\uD835\uDD18x", "\uD835\uDD18x"); // a letter outside the BMP is one letter
        assertTokens("a\uDE00b", "a", "b");
        assertTokens("\uD83D\uDE00");
    }

    @Test
    public void emptyAndWhitespaceOnlyTextsHaveNoTokens() {
        assertEquals(Collections.emptyList(), Tokenizer.tokenize(""));
        assertTokens(" \t\n\r\u000B\f");
        assertTokens("   ");
        assertTokens("!?.,;:");
    }

    @Test
    public void controlCharactersSeparate() {
        assertTokens("a\u0000b\u007Fc", "a", "b", "c");
    }

    @Test
    public void veryLongTextIsTokenizedCompletely() {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 200_000; i++) {
            text.append("Great movie<br /> ");
        }
        text.append("THE END");
        List<String> tokens = Tokenizer.tokenize(text.toString());
        assertEquals(400_002, tokens.size());
        assertEquals("great", tokens.get(0));
        assertEquals("movie", tokens.get(399_999));
        assertEquals(Arrays.asList("the", "end"), tokens.subList(400_000, 400_002));
    }

    @Test(timeout = 5_000)
    public void longWhitespaceAfterAnUnclosedBreakTakesLinearTime() {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 50; i++) {
            text.append("<br").append(" ".repeat(100_000));
        }
        text.append("x");
        List<String> tokens = Tokenizer.tokenize(text.toString());
        assertEquals(51, tokens.size());
        assertEquals("br", tokens.get(49));
        assertEquals("x", tokens.get(50));
    }
}
