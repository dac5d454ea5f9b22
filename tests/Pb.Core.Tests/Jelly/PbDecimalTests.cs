using System.Numerics;
using Pb.Banana;
using Pb.Jelly;

namespace Pb.Tests.Jelly;

/// <summary>Decimals that System.Decimal cannot hold: exact round trips, and Python's equality and hashing.</summary>
public sealed class PbDecimalTests
{
    private static byte[] Tree(object coefficient, object exponent)
    {
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        var w = new BananaWriter(output, BananaDialect.Pb);
        w.WriteListHeader(3);
        w.WriteBytes("decimal"u8);
        WriteInt(ref w, coefficient);
        WriteInt(ref w, exponent);
        w.Flush();
        return output.WrittenSpan.ToArray();
    }

    private static void WriteInt(ref BananaWriter w, object value)
    {
        if (value is BigInteger big)
        {
            w.WriteInt(big);
        }
        else
        {
            w.WriteInt((long)value);
        }
    }

    public static TheoryData<string, object, long> Wide => new()
    {
        { "1E+400", BigInteger.One, 400 },
        { "1.111111111111111111111111111111111111111111111111111111111111", BigInteger.Parse(new string('1', 61), System.Globalization.CultureInfo.InvariantCulture), -60 },
        { "-1E-500", BigInteger.MinusOne, -500 },
        { "0E+500", BigInteger.Zero, 500 },
        { "1E-29", BigInteger.One, -29 },
        { "1E+9223372036854775807", BigInteger.One, long.MaxValue },
        { "79228162514264337593543950336", BigInteger.One << 96, 0 },
    };

    [Theory]
    [MemberData(nameof(Wide))]
    public void Decimals_beyond_System_Decimal_decode_as_PbDecimal_and_encode_back_byte_for_byte(string text, object coefficient, long exponent)
    {
        byte[] wire = Tree(coefficient, exponent);
        var value = Assert.IsType<PbDecimal>(JellySerializer.Deserialize(wire, BananaDialect.Pb));
        Assert.Equal((BigInteger)coefficient, value.Coefficient);
        Assert.Equal(exponent, value.Exponent);
        Assert.Equal(text, value.ToString());
        Assert.Equal(Convert.ToHexString(wire), Convert.ToHexString(JellySerializer.Serialize(value, BananaDialect.Pb)));
    }

    [Fact]
    public void Decimals_that_fit_stay_System_Decimal()
    {
        Assert.Equal(123.45m, JellySerializer.Deserialize(Tree(12345L, -2L), BananaDialect.Pb));
        Assert.Equal(1000m, JellySerializer.Deserialize(Tree(1L, 3L), BananaDialect.Pb));
        // Decimal('0.00'): the zero keeps its scale, so it goes back as ["decimal", 0, -2].
        byte[] zero = Tree(0L, -2L);
        Assert.Equal(Convert.ToHexString(zero), Convert.ToHexString(JellySerializer.Serialize(JellySerializer.Deserialize(zero, BananaDialect.Pb), BananaDialect.Pb)));
    }

    [Fact]
    public void An_exponent_beyond_64_bits_is_refused_as_twisted_refuses_it()
    {
        Assert.Throws<JellyException>(() => JellySerializer.Deserialize(Tree(12L, BigInteger.One << 70), BananaDialect.Pb));
    }

    [Fact]
    public void A_PbDecimal_equal_to_another_number_is_the_same_key()
    {
        var c = PbEqualityComparer.Instance;
        (object, object)[] equal =
        [
            (new PbDecimal(1, 400), new PbDecimal(10, 399)),
            (new PbDecimal(5, 1), 50L),
            (new PbDecimal(50, 0), 50.0),
            (new PbDecimal(1, 20), BigInteger.Pow(10, 20)),
            (new PbDecimal(1, 20), 1e20),
            (new PbDecimal(1, 20), 100000000000000000000m),
            (new PbDecimal(5, -1), 0.5m),
            (new PbDecimal(BigInteger.Pow(10, 40), -40), true),
        ];
        foreach ((object x, object y) in equal)
        {
            Assert.True(c.Equals(x, y), $"{x} == {y}");
            Assert.True(c.Equals(y, x), $"{y} == {x}");
            Assert.Equal(c.GetHashCode(x), c.GetHashCode(y));
        }
        Assert.False(c.Equals(new PbDecimal(1, 400), new PbDecimal(1, 401)));
        Assert.False(c.Equals(new PbDecimal(1, -29), 0L));
        Assert.False(c.Equals(new PbDecimal(1, 20), 1e20 + 16384));
        // Hashing a value with a huge exponent does not expand it.
        Assert.NotEqual(c.GetHashCode(new PbDecimal(1, long.MaxValue)), c.GetHashCode(new PbDecimal(1, long.MaxValue - 1)));
    }
}
