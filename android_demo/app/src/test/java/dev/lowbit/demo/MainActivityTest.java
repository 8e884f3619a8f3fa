package dev.lowbit.demo;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNotSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;
import static org.robolectric.Shadows.shadowOf;

import android.os.Looper;
import android.widget.Button;
import android.widget.EditText;
import android.widget.TextView;

import java.util.regex.Pattern;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.robolectric.Robolectric;
import org.robolectric.RobolectricTestRunner;
import org.robolectric.android.controller.ActivityController;

/**
 * The app's screen on the JVM (Robolectric): launch, type a text, press Classify, read what the
 * screen shows. The bundled assets are a real lowbit run's; inference runs for real through the
 * app's own {@link TfLiteScorer} (TensorFlow Lite 2.21, Bytedeco's linux-x86_64 libraries on the
 * test's class path, the same code the phone runs with its Android libraries), wrapped only to
 * record its thread. The expected label, probability and token count are what Python's LiteRT
 * computes for the same text and file, passed in by the test driver (tests/test_apk.py) as system
 * properties {@code lowbit.text}, {@code lowbit.label}, {@code lowbit.probability} (of the label
 * shown), {@code lowbit.scores} (the model's outputs, comma-separated), {@code lowbit.tokens} and
 * {@code lowbit.sequence_length}; without them (e.g. {@code ./gradlew test}) the test is skipped. The score the app computed is printed as
 * {@code lowbit.score=...} for the driver to compare within 1e-5.
 */
@RunWith(RobolectricTestRunner.class)
public class MainActivityTest {

    private static final long TIMEOUT_MS = 30_000;

    private RecordingScorer scorer;
    private Scorer.Factory appScorers;

    @Before
    public void recordTheAppsScorer() {
        assumeTrue("lowbit.text not given: run through tests/test_apk.py", System.getProperty("lowbit.text") != null);
        appScorers = TextClassifier.scorers;
        Scorer.Factory real = appScorers;
        TextClassifier.scorers = (model, threads) -> scorer = new RecordingScorer(real.open(model, threads));
    }

    @After
    public void restore() {
        if (appScorers != null) {
            TextClassifier.scorers = appScorers;
        }
    }

    /** Runs the main looper until {@code view} no longer shows {@code text}. */
    private static void waitWhileShowing(TextView view, String text) throws InterruptedException {
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        while (view.getText().toString().equals(text)) {
            assertTrue("the screen still shows \"" + text + "\"", System.currentTimeMillis() < deadline);
            Thread.sleep(10);
            shadowOf(Looper.getMainLooper()).idle();
        }
    }

    @Test
    public void typingATextAndPressingClassifyShowsWhatLowbitPredictPrints() throws Exception {
        ActivityController<MainActivity> controller = Robolectric.buildActivity(MainActivity.class).setup();
        MainActivity activity = controller.get();
        TextView status = activity.findViewById(R.id.model_status);
        Button classify = activity.findViewById(R.id.classify);
        EditText review = activity.findViewById(R.id.review);
        TextView result = activity.findViewById(R.id.result);
        TextView tokens = activity.findViewById(R.id.tokens);
        TextView latency = activity.findViewById(R.id.latency);

        waitWhileShowing(status, activity.getString(R.string.model_loading));
        assertTrue(status.getText().toString(), status.getText().toString().startsWith("Model: "));
        assertTrue(classify.isEnabled());

        review.setText(System.getProperty("lowbit.text"));
        String before = result.getText().toString();
        assertTrue(classify.performClick());
        assertFalse("disabled while the text is classified", classify.isEnabled());
        waitWhileShowing(result, before);

        String label = System.getProperty("lowbit.label");
        double probability = Double.parseDouble(System.getProperty("lowbit.probability"));
        assertEquals(activity.getString(R.string.result, label, probability), result.getText().toString());
        assertEquals(activity.getString(R.string.result_tokens, Integer.parseInt(System.getProperty("lowbit.tokens")),
                Integer.parseInt(System.getProperty("lowbit.sequence_length"))), tokens.getText().toString());
        assertTrue(latency.getText().toString(), Pattern.matches(
                "Latency: \\d+\\.\\d\\d ms · running median of the last 1: \\d+\\.\\d\\d ms",
                latency.getText().toString()));
        assertTrue(classify.isEnabled());
        String[] expectedScores = System.getProperty("lowbit.scores").split(",");
        float[] scores = scorer.lastScores;
        assertEquals(expectedScores.length, scores.length);
        for (int k = 0; k < scores.length; k++) {
            System.out.println("lowbit.score=" + scores[k]);
            assertEquals("score " + k, Double.parseDouble(expectedScores[k]), scores[k], 1e-5);
        }
        assertNotNull(scorer.lastRunThread);
        assertNotSame("inference ran on the UI thread", Looper.getMainLooper().getThread(), scorer.lastRunThread);
        controller.pause().stop().destroy();
        // the activity closes the model on its inference thread; wait for it, as the process would
        // otherwise exit while the native interpreter is being released
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        while (!scorer.closed) {
            assertTrue("the model was not closed after onDestroy", System.currentTimeMillis() < deadline);
            Thread.sleep(10);
        }
    }
}
