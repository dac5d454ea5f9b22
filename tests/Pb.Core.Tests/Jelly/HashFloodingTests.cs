using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using Pb.Jelly;
using Pb.Tests.Broker;

namespace Pb.Tests.Jelly;

/// <summary>Hash flooding: keys a peer chooses must not all collide, and equal numbers of any type hash equal.</summary>
public sealed class HashFloodingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static long Colliding(long k) => (k << 32) | k;

    [Fact]
    public void Keys_that_collide_under_long_GetHashCode_get_distinct_hashes()
    {
        // (k << 32) | k all hash to 0 with long.GetHashCode(); a seeded hash spreads them.
        var hashes = new HashSet<int>();
        for (long k = 0; k < 20_000; k++)
        {
            Assert.Equal(0, Colliding(k).GetHashCode());
            hashes.Add(PbEqualityComparer.Instance.GetHashCode(Colliding(k)));
        }
        Assert.True(hashes.Count >= 19_900, $"only {hashes.Count} distinct hashes among 20,000 keys");
    }

    [Fact]
    public void Byte_string_and_big_integer_keys_get_distinct_hashes()
    {
        var bytes = new HashSet<int>();
        var bigs = new HashSet<int>();
        for (long k = 0; k < 20_000; k++)
        {
            bytes.Add(PbEqualityComparer.Instance.GetHashCode(BitConverter.GetBytes(Colliding(k))));
            bigs.Add(PbEqualityComparer.Instance.GetHashCode((new BigInteger(Colliding(k)) << 64) | Colliding(k)));
        }
        Assert.True(bytes.Count >= 19_900, $"only {bytes.Count} distinct byte-string hashes");
        Assert.True(bigs.Count >= 19_900, $"only {bigs.Count} distinct big-integer hashes");
    }

    [Fact]
    public void Frozensets_whose_elements_would_cancel_under_xor_hash_apart()
    {
        var hashes = new HashSet<int>();
        for (long k = 1; k <= 2_000; k++)
        {
            hashes.Add(new PbFrozenSet(Colliding(k), -Colliding(k)).GetHashCode());
            hashes.Add(new PbTuple(Colliding(k), Colliding(k)).GetHashCode());
        }
        Assert.True(hashes.Count >= 3_990, $"only {hashes.Count} distinct hashes among 4,000 frozensets and tuples");
    }

    [Theory]
    [InlineData(70)]
    [InlineData(64)]
    [InlineData(63)]
    [InlineData(100)]
    public void A_big_power_of_two_equals_and_hashes_as_the_double(int power)
    {
        BigInteger big = BigInteger.Pow(2, power);
        double d = Math.Pow(2, power);
        Assert.True(PbEqualityComparer.Instance.Equals(big, d));
        Assert.Equal(PbEqualityComparer.Instance.GetHashCode(big), PbEqualityComparer.Instance.GetHashCode(d));
        Assert.False(PbEqualityComparer.Instance.Equals(big + 1, d));
    }

    [Fact]
    public void One_is_the_same_key_in_every_numeric_type()
    {
        object[] ones = [1L, 1, 1.0, true, 1m, 1.00m, BigInteger.One, (short)1, (byte)1, 1u, 1ul, 1.0f];
        var dict = new PbDictionary();
        foreach (object one in ones)
        {
            dict[one] = one;
        }
        Assert.Single(dict);
        var big = new BigInteger(decimal.MaxValue);
        Assert.True(PbEqualityComparer.Instance.Equals(decimal.MaxValue, big));
        Assert.Equal(PbEqualityComparer.Instance.GetHashCode(decimal.MaxValue), PbEqualityComparer.Instance.GetHashCode(big));
    }

    private static readonly object[] s_numbers =
    [
        0L, 1L, -1L, 2L, long.MaxValue, long.MinValue, 1L << 53, (1L << 53) + 1, 0.5, -0.0, 0.0, 1.0, 2.0, 9007199254740992.0,
        9.2233720368547758E18, -9.2233720368547758E18, 1e20, 1e300, double.NaN, double.PositiveInfinity, double.NegativeInfinity,
        0.1, true, false, 0m, 1m, -1m, 0.5m, 0.1m, 1e20m, decimal.MaxValue, decimal.MinValue, 79228162514264337593543950335m,
        BigInteger.Pow(2, 63), BigInteger.Pow(2, 64), BigInteger.Pow(2, 70), -BigInteger.Pow(2, 63), BigInteger.Pow(10, 20),
        new BigInteger(decimal.MaxValue), 3, -3, 0.5f, 1.0f, ulong.MaxValue, (ulong)long.MaxValue + 1, (byte)2, (short)-1,
        new PbDecimal(1, 400), new PbDecimal(10, 399), new PbDecimal(1, 20), new PbDecimal(5, -1), new PbDecimal(1, -29),
        new PbDecimal(BigInteger.One << 70, 0), new PbDecimal(1, 0), new PbDecimal(0, 500), new PbDecimal(-1, 19),
    ];

    [Fact]
    public void Equal_numbers_of_any_type_hash_equal()
    {
        Gen<object> number = Gen.OneOf(
            Gen.Elements(s_numbers),
            ArbMap.Default.GeneratorFor<long>().Select(l => (object)l),
            ArbMap.Default.GeneratorFor<long>().Select(l => (object)(double)l),
            ArbMap.Default.GeneratorFor<long>().Select(l => (object)(decimal)l),
            ArbMap.Default.GeneratorFor<long>().Select(l => (object)new BigInteger(l)),
            ArbMap.Default.GeneratorFor<int>().Select(i => (object)((double)i / 4)),
            ArbMap.Default.GeneratorFor<int>().Select(i => (object)((decimal)i / 4)),
            ArbMap.Default.GeneratorFor<int>().Select(i => (object)(new BigInteger(i) << 70)),
            ArbMap.Default.GeneratorFor<int>().Select(i => (object)((double)i * Math.Pow(2, 70))),
            ArbMap.Default.GeneratorFor<int>().Select(i => (object)((decimal)i * 1_000_000_000_000m)),
            ArbMap.Default.GeneratorFor<int>().Select(i => (object)((double)i * 1_000_000_000_000d)),
            Gen.Zip(ArbMap.Default.GeneratorFor<int>(), Gen.Choose(-40, 40)).Select(t => (object)new PbDecimal(t.Item1, t.Item2)));
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(20_000), Prop.ForAll(Arb.From(Gen.Zip(number, number)), pair =>
        {
            (object x, object y) = pair;
            Assert.Equal(PbEqualityComparer.Instance.Equals(x, y), PbEqualityComparer.Instance.Equals(y, x));
            if (PbEqualityComparer.Instance.Equals(x, y))
            {
                Assert.True(PbEqualityComparer.Instance.GetHashCode(x) == PbEqualityComparer.Instance.GetHashCode(y),
                    $"{x} ({x.GetType().Name}) equals {y} ({y.GetType().Name}) but hashes differ");
            }
        }));
        foreach (object x in s_numbers)
        {
            foreach (object y in s_numbers)
            {
                if (PbEqualityComparer.Instance.Equals(x, y))
                {
                    Assert.True(PbEqualityComparer.Instance.GetHashCode(x) == PbEqualityComparer.Instance.GetHashCode(y),
                        $"{x} ({x.GetType().Name}) equals {y} ({y.GetType().Name}) but hashes differ");
                }
            }
        }
    }

    [Fact]
    public async Task A_dict_of_50000_colliding_keys_echoes_intact_over_tcp()
    {
        await using var host = await BrokerTestHost.StartAsync();
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        var sent = new PbDictionary();
        for (long k = 0; k < 50_000; k++)
        {
            sent[Colliding(k)] = k;
        }
        var back = Assert.IsType<PbDictionary>(await root.CallRemoteAsync("echo", sent));
        Assert.Equal(50_000, back.Count);
        for (long k = 0; k < 50_000; k++)
        {
            Assert.Equal(k, back[Colliding(k)]);
        }
    }
}
