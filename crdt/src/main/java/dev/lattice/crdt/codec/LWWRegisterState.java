package dev.lattice.crdt.codec;

import dev.lattice.crdt.Crdt;
import dev.lattice.crdt.CrdtType;
import dev.lattice.crdt.LWWRegister;
import dev.lattice.crdt.ReplicaId;
import java.io.IOException;
import org.msgpack.core.MessagePacker;

/**
 * A register state {@code []} or {@code [value, timestamp, writer]}; compact: {@code []} or {@code
 * [value, timestamp]}, the writer being the mutation's replica.
 */
final class LWWRegisterState extends StateCodec {

  LWWRegisterState() {
    super(CrdtType.LWW_REGISTER, TypeTags.LWW_REGISTER);
  }

  @Override
  void write(Writer writer, MessagePacker out, Crdt<?> state) throws IOException {
    LWWRegister register = (LWWRegister) state;
    if (register.isEmpty()) {
      out.packArrayHeader(0);
    } else {
      out.packArrayHeader(3);
      writer.write(out, register);
    }
  }

  @Override
  Crdt<?> read(Reader in, String where, int depth) throws IOException {
    long pos = in.position();
    int n =
        in.arrayHeader(
            where, "a register state [] or [value, timestamp, writer]", 3, "fixed by the format");
    if (n == 0) {
      return LWWRegister.empty();
    }
    if (n == 3) {
      return in.readWrite(where + ".value", where + ".timestamp", where + ".writer");
    }
    throw Reader.error(
        where,
        pos,
        "expected a register state [] or [value, timestamp, writer], got an array of "
            + n
            + " elements");
  }

  @Override
  void writeCompact(Writer writer, MessagePacker out, Crdt<?> state, ReplicaId replica)
      throws IOException {
    LWWRegister register = (LWWRegister) state;
    if (register.isEmpty()) {
      out.packArrayHeader(0);
    } else {
      out.packArrayHeader(2);
      writer.value(out, register.value().orElseThrow(), 0);
      out.packLong(register.timestamp().orElseThrow().toLong());
    }
  }

  @Override
  Crdt<?> readCompact(Reader in, String where, ReplicaId replica) throws IOException {
    long pos = in.position();
    int n =
        in.arrayHeader(
            where, "a compact register state [] or [value, timestamp]", 2, "fixed by the format");
    if (n == 0) {
      return LWWRegister.empty();
    }
    if (n == 2) {
      return LWWRegister.of(
          in.readValue(where + ".value", 0), in.readTimestamp(where + ".timestamp"), replica);
    }
    throw Reader.error(
        where,
        pos,
        "expected a compact register state [] or [value, timestamp], got an array of "
            + n
            + " elements");
  }
}
