namespace Pb.Banana;

/// <summary>
/// The banana type bytes (Twisted <c>spread/banana.py</c>). Every item is zero or more header bytes
/// (<c>0x00..0x7F</c>, base 128, least significant digit first), one type byte (<c>&gt;= 0x80</c>), then a
/// payload for STRING (header = length) and FLOAT (8 bytes, big-endian). Examples: <c>00 81</c> is 0,
/// <c>00 01 81</c> is 128, <c>03 82 61 62 63</c> is <c>b"abc"</c>, <c>02 80 ...</c> is a list of two items.
/// </summary>
public static class BananaTypeByte
{
    /// <summary>LIST: header = element count; the elements follow as complete items.</summary>
    public const byte List = 0x80;
    /// <summary>INT: header = the value (the encoder uses it for 0..2**31-1).</summary>
    public const byte Int = 0x81;
    /// <summary>STRING: header = byte length; that many raw bytes follow.</summary>
    public const byte String = 0x82;
    /// <summary>NEG: header = magnitude (the encoder uses it for -2**31..-1).</summary>
    public const byte Neg = 0x83;
    /// <summary>FLOAT: header ignored; 8 bytes of big-endian IEEE-754 binary64 follow.</summary>
    public const byte Float = 0x84;
    /// <summary>LONGINT: header = the value (2**31..2**448-1).</summary>
    public const byte LongInt = 0x85;
    /// <summary>LONGNEG: header = magnitude (-(2**448-1)..-2**31-1).</summary>
    public const byte LongNeg = 0x86;
    /// <summary>VOCAB: header = index into the PB vocabulary (dialect <c>pb</c> only).</summary>
    public const byte Vocab = 0x87;
}
