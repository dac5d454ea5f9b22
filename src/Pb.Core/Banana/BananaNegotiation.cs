using System.Buffers;

namespace Pb.Banana;

/// <summary>
/// Dialect negotiation (PB-WIRE.md 1.9). The accepting side sends <see cref="ServerOffer"/> (the list
/// <c>["pb", "none"]</c>); the connecting side answers with the first dialect of that list it knows, as a
/// bare byte string. Both messages are written without vocabulary. Both sides then switch dialect and
/// send <c>["version", 6]</c>.
/// </summary>
public static class BananaNegotiation
{
    /// <summary><c>["pb", "none"]</c> = <c>02 80 02 82 70 62 04 82 6e 6f 6e 65</c>.</summary>
    public static ReadOnlySpan<byte> ServerOffer => [0x02, 0x80, 0x02, 0x82, 0x70, 0x62, 0x04, 0x82, 0x6e, 0x6f, 0x6e, 0x65];

    /// <summary>The client's choice of <c>pb</c>: <c>02 82 70 62</c>.</summary>
    public static ReadOnlySpan<byte> ChoosePb => [0x02, 0x82, 0x70, 0x62];

    /// <summary>The client's choice of <c>none</c>: <c>04 82 6e 6f 6e 65</c>.</summary>
    public static ReadOnlySpan<byte> ChooseNone => [0x04, 0x82, 0x6e, 0x6f, 0x6e, 0x65];

    /// <summary>The encoded choice for <paramref name="dialect"/>.</summary>
    public static ReadOnlySpan<byte> ChoiceFor(BananaDialect dialect) => dialect == BananaDialect.Pb ? ChoosePb : ChooseNone;

    /// <summary>
    /// Client side: picks the first dialect of the server's offer (a decoded tree) that we know.
    /// Returns false when the offer is not a list or names no dialect we know (the client then closes).
    /// </summary>
    public static bool TrySelect(object? offer, out BananaDialect dialect)
    {
        if (offer is List<object?> list)
        {
            foreach (object? entry in list)
            {
                if (entry is byte[] name && TryParseName(name, out dialect))
                {
                    return true;
                }
            }
        }
        dialect = BananaDialect.None;
        return false;
    }

    /// <summary>
    /// Server side: reads the client's choice (a decoded tree). Anything but the bare byte string
    /// <c>pb</c> or <c>none</c> throws <see cref="BananaException"/>, and the server closes the connection.
    /// </summary>
    public static BananaDialect ParseChoice(object? choice)
    {
        if (choice is byte[] name && TryParseName(name, out BananaDialect dialect))
        {
            return dialect;
        }
        throw new BananaException("The client chose a dialect the server did not offer (expected the byte string 'pb' or 'none').");
    }

    private static bool TryParseName(ReadOnlySpan<byte> name, out BananaDialect dialect)
    {
        if (name.SequenceEqual("pb"u8))
        {
            dialect = BananaDialect.Pb;
            return true;
        }
        if (name.SequenceEqual("none"u8))
        {
            dialect = BananaDialect.None;
            return true;
        }
        dialect = BananaDialect.None;
        return false;
    }
}
