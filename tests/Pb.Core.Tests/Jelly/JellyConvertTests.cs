using System.Numerics;
using Pb.Jelly;

namespace Pb.Tests.Jelly;

public sealed class JellyConvertTests
{
    private enum Color { Red = 1, Green = 2 }

    [Fact]
    public void Integers_convert_with_range_checks()
    {
        Assert.Equal(5, JellyConvert.To<int>(5L));
        Assert.Equal((byte)255, JellyConvert.To<byte>(255L));
        Assert.Equal(2.0, JellyConvert.To<double>(2L));
        Assert.Equal(ulong.MaxValue, JellyConvert.To<ulong>((BigInteger)ulong.MaxValue));
        Assert.Equal(3, JellyConvert.To<int>(3.0));
        Assert.Contains("out of range", Assert.Throws<JellyException>(() => JellyConvert.To<byte>(256L)).Message, StringComparison.Ordinal);
        Assert.Contains("whole number", Assert.Throws<JellyException>(() => JellyConvert.To<int>(3.5)).Message, StringComparison.Ordinal);
        Assert.Throws<JellyException>(() => JellyConvert.To<int>("3"));
        Assert.Equal(Color.Green, JellyConvert.To<Color>(2L));
        Assert.Equal(Color.Red, JellyConvert.To<Color>("Red"));
        Assert.Equal(7, JellyConvert.To<int?>(7L));
        Assert.Null(JellyConvert.To<int?>(null));
        Assert.Throws<JellyException>(() => JellyConvert.To<int>(null));
    }

    [Fact]
    public void Text_and_bytes()
    {
        Assert.Equal("héllo", JellyConvert.To<string>("héllo"u8.ToArray()));
        Assert.Throws<JellyException>(() => JellyConvert.To<string>(new byte[] { 0xff, 0xfe }));
        Assert.Throws<JellyException>(() => JellyConvert.To<byte[]>("text"));
        Assert.Equal('x', JellyConvert.To<char>("x"));
        Assert.True(JellyConvert.To<bool>(true));
    }

    [Fact]
    public void Collections_convert_element_by_element()
    {
        var list = new List<object?> { 1L, 2L, 3L };
        Assert.Equal([1, 2, 3], JellyConvert.To<int[]>(list));
        Assert.Equal([1, 2, 3], JellyConvert.To<List<int>>(new PbTuple(1L, 2L, 3L)));
        Assert.Equal([1L, 2L], JellyConvert.To<IReadOnlyList<long>>(new List<object?> { 1L, 2L }));
        Assert.True(JellyConvert.To<HashSet<int>>(new PbFrozenSet(1L, 2L)).SetEquals([1, 2]));
        var dict = JellyConvert.To<Dictionary<string, int>>(new PbDictionary { ["a"] = 1L, ["b"u8.ToArray()] = 2L });
        Assert.Equal(2, dict["b"]);
        var ex = Assert.Throws<JellyException>(() => JellyConvert.To<List<int>>(new List<object?> { 1L, "x" }));
        Assert.Contains("Int32", ex.Message, StringComparison.Ordinal);
        Assert.Throws<JellyException>(() => JellyConvert.To<List<int>>("123"));
    }
}
