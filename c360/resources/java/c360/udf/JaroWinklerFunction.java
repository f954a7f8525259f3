package c360.udf;

import java.util.List;
import org.apache.spark.sql.catalyst.FunctionIdentifier;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.ExpressionInfo;
import org.apache.spark.sql.catalyst.expressions.objects.StaticInvoke;
import org.apache.spark.sql.types.AbstractDataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.unsafe.types.UTF8String;
import scala.Option;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The SQL function {@code c360_jaro_winkler(a, b)}: {@link JaroWinkler}'s similarity as a built-in Spark
 * expression, not a UDF. The function is a {@code StaticInvoke} of {@link #similarity}, the way Spark builds
 * its own functions on Java helpers (e.g. {@code luhn_check}, {@code url_encode}): the analyser casts the
 * arguments to strings, whole-stage code generation inlines the static call on the strings' UTF-8 bytes (no
 * conversion of the row, no boxing), and the result is null when either side is null, like Spark's string
 * functions (c360's comparisons turn that into 0).
 *
 * <p>{@link #register} adds it to a session's function registry; c360.jvm calls it through py4j.
 */
public final class JaroWinklerFunction {
    public static final String NAME = "c360_jaro_winkler";

    private JaroWinklerFunction() {}

    /** Registers {@value #NAME} with a session (an {@code org.apache.spark.sql.classic.SparkSession}). */
    public static void register(org.apache.spark.sql.classic.SparkSession session) {
        ExpressionInfo info = new ExpressionInfo(JaroWinklerFunction.class.getName(), null, NAME,
                "_FUNC_(a, b) - Jaro-Winkler similarity of two strings in [0, 1], null when either is null (c360).",
                "");
        scala.Function1<scala.collection.immutable.Seq<Expression>, Expression> builder = args -> {
            if (args.size() != 2) {
                throw new IllegalArgumentException(NAME + " takes 2 arguments (two strings), got " + args.size());
            }
            return expression(args.apply(0), args.apply(1));
        };
        session.sessionState().functionRegistry().registerFunction(FunctionIdentifier.apply(NAME), info, builder);
    }

    /** The expression for {@code c360_jaro_winkler(a, b)}. */
    public static Expression expression(Expression a, Expression b) {
        List<AbstractDataType> types = List.of(DataTypes.StringType, DataTypes.StringType);
        return new StaticInvoke(JaroWinklerFunction.class, DataTypes.DoubleType, "similarity",
                CollectionConverters.asScala(List.of(a, b)).toList(), CollectionConverters.asScala(types).toList(),
                true, false, true, Option.empty());
    }

    /** The similarity of two UTF-8 strings (never null here: the expression propagates nulls). */
    public static double similarity(UTF8String a, UTF8String b) {
        return JaroWinkler.similarity(codePoints(a), codePoints(b));
    }

    /** The string's code points; ASCII strings (nearly all names) are read byte by byte. */
    static int[] codePoints(UTF8String s) {
        if (!s.isFullAscii()) {
            return JaroWinkler.codePoints(s.toString());
        }
        int n = s.numBytes();
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = s.getByte(i);
        }
        return out;
    }
}
