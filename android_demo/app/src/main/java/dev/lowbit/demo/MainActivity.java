package dev.lowbit.demo;

import android.app.Activity;
import android.os.Bundle;
import android.text.format.Formatter;
import android.widget.Button;
import android.widget.EditText;
import android.widget.TextView;

import java.io.IOException;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import dev.lowbit.demo.core.ModelMetadata;
import dev.lowbit.demo.core.RunningMedian;
import dev.lowbit.demo.core.Classification;

/**
 * The demo's one screen: type a text, press Classify, read the label and its probability, the
 * inference latency with its running median, and what the bundled model is.
 *
 * <p>Threads: the model is loaded, run and closed on one inference thread (a single-thread
 * executor, so these happen in submission order and the model never leaves that thread);
 * results are posted back with {@link #runOnUiThread}. Views and {@link #latencies} are touched on
 * the UI thread only.
 */
public final class MainActivity extends Activity {

    /** The running median covers this many of the latest classifications. */
    private static final int MEDIAN_WINDOW = 20;
    /** One thread, as {@code lowbit bench} measures latency. */
    private static final int INFERENCE_THREADS = 1;

    private final ExecutorService inference = Executors.newSingleThreadExecutor();
    private final RunningMedian latencies = new RunningMedian(MEDIAN_WINDOW);
    /** Inference thread only. */
    private TextClassifier model;
    /** UI thread only; set once the model is loaded. */
    private ModelMetadata metadata;

    private EditText review;
    private Button classify;
    private TextView result;
    private TextView tokens;
    private TextView latency;
    private TextView modelStatus;
    private TextView modelAccuracy;

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        setContentView(R.layout.activity_main);
        review = findViewById(R.id.review);
        classify = findViewById(R.id.classify);
        result = findViewById(R.id.result);
        tokens = findViewById(R.id.tokens);
        latency = findViewById(R.id.latency);
        modelStatus = findViewById(R.id.model_status);
        modelAccuracy = findViewById(R.id.model_accuracy);
        classify.setOnClickListener(view -> onClassifyClicked());
        inference.execute(this::loadModel);
    }

    /** Closes the interpreter on the inference thread, after any queued work, and ends that thread. */
    @Override
    protected void onDestroy() {
        inference.execute(this::closeModel);
        inference.shutdown();
        super.onDestroy();
    }

    // Inference thread.

    private void loadModel() {
        try {
            model = TextClassifier.load(getAssets(), INFERENCE_THREADS);
            ModelMetadata loaded = model.metadata();
            runOnUiThread(() -> showModel(loaded));
        } catch (TextClassifier.NoModelBundledException e) {
            String message = getString(R.string.no_model);
            runOnUiThread(() -> showModelProblem(message));
        } catch (IOException | RuntimeException | UnsatisfiedLinkError e) {
            String message = getString(R.string.model_unusable, describe(e));
            runOnUiThread(() -> showModelProblem(message));
        }
    }

    private void classifyText(String text) {
        try {
            Classification classification = model.classify(text);
            runOnUiThread(() -> showClassification(classification));
        } catch (RuntimeException e) {
            String message = getString(R.string.classification_failed, describe(e));
            runOnUiThread(() -> showClassificationProblem(message));
        }
    }

    private void closeModel() {
        if (model != null) {
            model.close();
            model = null;
        }
    }

    // UI thread.

    /** Only reachable once the model is loaded: the button starts disabled. */
    private void onClassifyClicked() {
        String text = review.getText().toString();
        classify.setEnabled(false);
        inference.execute(() -> classifyText(text));
    }

    private void showModel(ModelMetadata loaded) {
        metadata = loaded;
        String unknown = getString(R.string.unknown);
        String bitsPerWeight = loaded.bitsPerWeight().isPresent()
                ? String.format(Locale.getDefault(), "%.2f", loaded.bitsPerWeight().getAsDouble())
                : unknown;
        modelStatus.setText(getString(R.string.model_info, loaded.task(), loaded.scheme().orElse(unknown),
                Formatter.formatShortFileSize(this, loaded.sizeBytes()), bitsPerWeight));
        if (loaded.testAccuracy().isPresent()) {
            modelAccuracy.setText(getString(R.string.model_info_accuracy, 100 * loaded.testAccuracy().getAsDouble()));
        }
        classify.setEnabled(true);
    }

    private void showModelProblem(String message) {
        modelStatus.setText(message);
        classify.setEnabled(false);
    }

    private void showClassification(Classification classification) {
        latencies.add(classification.latencyMs());
        result.setText(getString(R.string.result, classification.label(), classification.probability()));
        tokens.setText(getString(R.string.result_tokens, classification.tokens(), metadata.sequenceLength()));
        latency.setText(getString(R.string.latency, classification.latencyMs(), latencies.count(), latencies.median()));
        classify.setEnabled(true);
    }

    private void showClassificationProblem(String message) {
        result.setText(message);
        tokens.setText("");
        classify.setEnabled(true);
    }

    private static String describe(Throwable error) {
        return error.getMessage() != null ? error.getMessage() : error.getClass().getSimpleName();
    }
}
