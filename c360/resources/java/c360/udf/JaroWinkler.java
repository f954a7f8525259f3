package c360.udf;

/**
 * Jaro-Winkler similarity in [0, 1] of two strings' code points: the same definition as
 * rapidfuzz's {@code JaroWinkler.normalized_similarity} (match window max(len) / 2 - 1, transpositions
 * halved, a common prefix of at most 4 code points weighted 0.1 when the Jaro similarity is above 0.7),
 * over Unicode code points. Plain Java, no Spark: {@link JaroWinklerFunction} makes it the SQL function
 * {@code c360_jaro_winkler}, so that the comparisons run inside Spark's generated code instead of shipping
 * every pair's strings to a Python worker.
 */
public final class JaroWinkler {
    private JaroWinkler() {}

    private static final double PREFIX_WEIGHT = 0.1;
    private static final int MAX_PREFIX = 4;
    private static final double BOOST_THRESHOLD = 0.7;

    /** The string's code points; a string without surrogate pairs (nearly all) is copied char by char. */
    public static int[] codePoints(String s) {
        int n = s.length();
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (Character.isSurrogate(c)) {
                return s.codePoints().toArray();
            }
            out[i] = c;
        }
        return out;
    }

    static double jaro(int[] s, int[] t) {
        int n = s.length;
        int m = t.length;
        if (n == 0 && m == 0) {
            return 1.0;
        }
        if (n == 0 || m == 0) {
            return 0.0;
        }
        int window = Math.max(Math.max(n, m) / 2 - 1, 0);
        boolean[] sMatched = new boolean[n];
        boolean[] tMatched = new boolean[m];
        int matches = 0;
        for (int i = 0; i < n; i++) {
            int lo = Math.max(0, i - window);
            int hi = Math.min(m - 1, i + window);
            for (int j = lo; j <= hi; j++) {
                if (!tMatched[j] && s[i] == t[j]) {
                    sMatched[i] = true;
                    tMatched[j] = true;
                    matches++;
                    break;
                }
            }
        }
        if (matches == 0) {
            return 0.0;
        }
        int transpositions = 0;
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (sMatched[i]) {
                while (!tMatched[k]) {
                    k++;
                }
                if (s[i] != t[k]) {
                    transpositions++;
                }
                k++;
            }
        }
        double md = matches;
        return (md / n + md / m + (md - transpositions / 2) / md) / 3.0;
    }

    public static double similarity(int[] s, int[] t) {
        double sim = jaro(s, t);
        if (sim > BOOST_THRESHOLD) {
            int limit = Math.min(MAX_PREFIX, Math.min(s.length, t.length));
            int prefix = 0;
            while (prefix < limit && s[prefix] == t[prefix]) {
                prefix++;
            }
            sim += prefix * PREFIX_WEIGHT * (1.0 - sim);
        }
        return sim;
    }
}
