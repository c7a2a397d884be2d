//! Helpers shared by the unit tests (test builds only) of farhand-proto and farhand-engine.
#![allow(dead_code)] // included by the proto and engine crates' tests; each uses a part of it

/// Bytes from hex text; whitespace is ignored.
pub(crate) fn unhex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
}

/// A DNS name in wire form (RFC 1035 §3.1): length-prefixed labels and the root's zero.
pub(crate) fn wire_name(name: &str) -> Vec<u8> {
    let mut w = Vec::new();
    for l in name.split('.') {
        w.push(l.len() as u8);
        w.extend_from_slice(l.as_bytes());
    }
    w.push(0);
    w
}

/// A reproducible pseudo-random byte source (xorshift64, shifts 13/7/17; one byte per step),
/// for "random bytes never match" sweeps.
pub(crate) struct XorShift64(pub u64);

impl XorShift64 {
    /// The next byte.
    pub(crate) fn byte(&mut self) -> u8 {
        let x = &mut self.0;
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x as u8
    }

    /// `len` bytes.
    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.byte()).collect()
    }
}

/// One pcapng block: type, total length, body padded to 32 bits, total length again
/// (little-endian), for tests that write their own pcapng files.
pub(crate) fn pcapng_block(kind: u32, body: &[u8]) -> Vec<u8> {
    let pad = (4 - body.len() % 4) % 4;
    let len = (12 + body.len() + pad) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(&kind.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(body);
    b.extend(std::iter::repeat_n(0u8, pad));
    b.extend_from_slice(&len.to_le_bytes());
    b
}

/// SSH test data, shared by the SSH parser's tests (proto) and the SSH fingerprint's and
/// timing's (engine).
pub(crate) mod ssh {
    /// A clear binary packet of message `msg` with `body` more payload bytes and 4 bytes of
    /// padding (RFC 4253 §6, no MAC).
    pub(crate) fn packet(msg: u8, body: usize) -> Vec<u8> {
        let len = (1 + 1 + body + 4) as u32;
        let mut v = len.to_be_bytes().to_vec();
        v.push(4);
        v.push(msg);
        v.resize(4 + len as usize, 0);
        v
    }

    // Recorded on loopback: OpenSSH_9.2p1 Debian-2+deb12u10 client and server (Debian 12
    // packages openssh-client/openssh-server 1:9.2p1-2+deb12u10), `sshd -D -f <config in /tmp>`
    // on 127.0.0.1:2222 and `ssh -p 2222 root@127.0.0.1 echo hi`, captured with
    // `tcpdump -i lo`; payload extracted with `tshark -T fields -e tcp.payload`. Each constant
    // is that direction's identification line plus its first binary packet (the KEXINIT).
    pub(crate) const CLIENT: &str = "5353482d322e302d4f70656e5353485f392e3270312044656269616e2d322b64656231327531300d0a0000061408\
        149f8c6a5e2f05ba39d2193300896722a700000148736e747275703736317832353531392d7368613531322c736e\
        747275703736317832353531392d736861353132406f70656e7373682e636f6d2c637572766532353531392d7368\
        613235362c637572766532353531392d736861323536406c69627373682e6f72672c656364682d736861322d6e69\
        7374703235362c656364682d736861322d6e697374703338342c656364682d736861322d6e697374703532312c64\
        69666669652d68656c6c6d616e2d67726f75702d65786368616e67652d7368613235362c6469666669652d68656c\
        6c6d616e2d67726f757031362d7368613531322c6469666669652d68656c6c6d616e2d67726f757031382d736861\
        3531322c6469666669652d68656c6c6d616e2d67726f757031342d7368613235362c6578742d696e666f2d632c6b\
        65782d7374726963742d632d763030406f70656e7373682e636f6d000001cf7373682d656432353531392d636572\
        742d763031406f70656e7373682e636f6d2c65636473612d736861322d6e697374703235362d636572742d763031\
        406f70656e7373682e636f6d2c65636473612d736861322d6e697374703338342d636572742d763031406f70656e\
        7373682e636f6d2c65636473612d736861322d6e697374703532312d636572742d763031406f70656e7373682e63\
        6f6d2c736b2d7373682d656432353531392d636572742d763031406f70656e7373682e636f6d2c736b2d65636473\
        612d736861322d6e697374703235362d636572742d763031406f70656e7373682e636f6d2c7273612d736861322d\
        3531322d636572742d763031406f70656e7373682e636f6d2c7273612d736861322d3235362d636572742d763031\
        406f70656e7373682e636f6d2c7373682d656432353531392c65636473612d736861322d6e697374703235362c65\
        636473612d736861322d6e697374703338342c65636473612d736861322d6e697374703532312c736b2d7373682d\
        65643235353139406f70656e7373682e636f6d2c736b2d65636473612d736861322d6e69737470323536406f7065\
        6e7373682e636f6d2c7273612d736861322d3531322c7273612d736861322d3235360000006c6368616368613230\
        2d706f6c7931333035406f70656e7373682e636f6d2c6165733132382d6374722c6165733139322d6374722c6165\
        733235362d6374722c6165733132382d67636d406f70656e7373682e636f6d2c6165733235362d67636d406f7065\
        6e7373682e636f6d0000006c63686163686132302d706f6c7931333035406f70656e7373682e636f6d2c61657331\
        32382d6374722c6165733139322d6374722c6165733235362d6374722c6165733132382d67636d406f70656e7373\
        682e636f6d2c6165733235362d67636d406f70656e7373682e636f6d000000d5756d61632d36342d65746d406f70\
        656e7373682e636f6d2c756d61632d3132382d65746d406f70656e7373682e636f6d2c686d61632d736861322d32\
        35362d65746d406f70656e7373682e636f6d2c686d61632d736861322d3531322d65746d406f70656e7373682e63\
        6f6d2c686d61632d736861312d65746d406f70656e7373682e636f6d2c756d61632d3634406f70656e7373682e63\
        6f6d2c756d61632d313238406f70656e7373682e636f6d2c686d61632d736861322d3235362c686d61632d736861\
        322d3531322c686d61632d73686131000000d5756d61632d36342d65746d406f70656e7373682e636f6d2c756d61\
        632d3132382d65746d406f70656e7373682e636f6d2c686d61632d736861322d3235362d65746d406f70656e7373\
        682e636f6d2c686d61632d736861322d3531322d65746d406f70656e7373682e636f6d2c686d61632d736861312d\
        65746d406f70656e7373682e636f6d2c756d61632d3634406f70656e7373682e636f6d2c756d61632d313238406f\
        70656e7373682e636f6d2c686d61632d736861322d3235362c686d61632d736861322d3531322c686d61632d7368\
        61310000001a6e6f6e652c7a6c6962406f70656e7373682e636f6d2c7a6c69620000001a6e6f6e652c7a6c696240\
        6f70656e7373682e636f6d2c7a6c6962000000000000000000000000000000000000000000";
    pub(crate) const SERVER: &str = "5353482d322e302d4f70656e5353485f392e3270312044656269616e2d322b64656231327531300d0a0000043c09\
        146863993c12ad825b3109cf894e4c4b760000013d736e747275703736317832353531392d7368613531322c736e\
        747275703736317832353531392d736861353132406f70656e7373682e636f6d2c637572766532353531392d7368\
        613235362c637572766532353531392d736861323536406c69627373682e6f72672c656364682d736861322d6e69\
        7374703235362c656364682d736861322d6e697374703338342c656364682d736861322d6e697374703532312c64\
        69666669652d68656c6c6d616e2d67726f75702d65786368616e67652d7368613235362c6469666669652d68656c\
        6c6d616e2d67726f757031362d7368613531322c6469666669652d68656c6c6d616e2d67726f757031382d736861\
        3531322c6469666669652d68656c6c6d616e2d67726f757031342d7368613235362c6b65782d7374726963742d73\
        2d763030406f70656e7373682e636f6d0000000b7373682d656432353531390000006c63686163686132302d706f\
        6c7931333035406f70656e7373682e636f6d2c6165733132382d6374722c6165733139322d6374722c6165733235\
        362d6374722c6165733132382d67636d406f70656e7373682e636f6d2c6165733235362d67636d406f70656e7373\
        682e636f6d0000006c63686163686132302d706f6c7931333035406f70656e7373682e636f6d2c6165733132382d\
        6374722c6165733139322d6374722c6165733235362d6374722c6165733132382d67636d406f70656e7373682e63\
        6f6d2c6165733235362d67636d406f70656e7373682e636f6d000000d5756d61632d36342d65746d406f70656e73\
        73682e636f6d2c756d61632d3132382d65746d406f70656e7373682e636f6d2c686d61632d736861322d3235362d\
        65746d406f70656e7373682e636f6d2c686d61632d736861322d3531322d65746d406f70656e7373682e636f6d2c\
        686d61632d736861312d65746d406f70656e7373682e636f6d2c756d61632d3634406f70656e7373682e636f6d2c\
        756d61632d313238406f70656e7373682e636f6d2c686d61632d736861322d3235362c686d61632d736861322d35\
        31322c686d61632d73686131000000d5756d61632d36342d65746d406f70656e7373682e636f6d2c756d61632d31\
        32382d65746d406f70656e7373682e636f6d2c686d61632d736861322d3235362d65746d406f70656e7373682e63\
        6f6d2c686d61632d736861322d3531322d65746d406f70656e7373682e636f6d2c686d61632d736861312d65746d\
        406f70656e7373682e636f6d2c756d61632d3634406f70656e7373682e636f6d2c756d61632d313238406f70656e\
        7373682e636f6d2c686d61632d736861322d3235362c686d61632d736861322d3531322c686d61632d7368613100\
        0000156e6f6e652c7a6c6962406f70656e7373682e636f6d000000156e6f6e652c7a6c6962406f70656e7373682e\
        636f6d00000000000000000000000000000000000000000000";
}

/// STUN/TURN test data (coturn captures), shared by the STUN parser's tests (proto) and the
/// STUN/TURN fingerprint's (engine).
pub(crate) mod stun {
    // Recorded on loopback with coturn 4.6.1 (Debian 12 package 4.6.1-1): `turnserver -n
    // --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --lt-cred-mech --user=u:p
    // --realm=example.test --no-tls --no-dtls --no-cli --allow-loopback-peers --fingerprint`,
    // `turnutils_peer -L 127.0.0.1 -p 3480`, and its clients: `turnutils_stunclient 127.0.0.1`
    // (Binding), `turnutils_uclient -u u -w p -e 127.0.0.1 -r 3480 [-y|-s|-t] 127.0.0.1`
    // (Allocate with the 401 challenge, Refresh, CreatePermission, ChannelBind, ChannelData;
    // `-s` for Send/Data indications; `-t` for TCP). Captured with `tcpdump -i lo`; payloads
    // from `tshark -T fields -e udp.payload` / `-e tcp.payload`. The TCP constants are the
    // first three segments of each direction of one `-t` session concatenated (Allocate,
    // 401, authenticated Allocate, success, Refresh, success).
    pub(crate) const BINDING_REQUEST: &str = "000100002112a44203c1d4250efa4eeb1b79ac48";
    pub(crate) const BINDING_SUCCESS: &str = "010100442112a44203c1d4250efa4eeb1b79ac4800200008000180615e12a443000100080001a1737f000001802b\
        000800010d967f00000180220014436f7475726e2d342e362e312027476f727374278028000411db8d3d";
    pub(crate) const ALLOCATE_REQUEST: &str = "000300202112a442b177c81c01a5117f0909f1f30019000411000000000d00040000030900180001800000008028\
        0004baf8a307";
    pub(crate) const ALLOCATE_401: &str = "011300582112a442b177c81c01a5117f0909f1f30009001000000401556e617574686f72697a6564001500106563\
        34383539326439353035303462310014000c6578616d706c652e7465737480220014436f7475726e2d342e362e31\
        2027476f72737427802800041fcac931";
    pub(crate) const ALLOCATE_AUTH_REQUEST: &str = "000300642112a442b7e07aeb4690cc7d2dc2efe90019000411000000000d00040000030900180001800000000006\
        00017500000000150010656334383539326439353035303462310014000c6578616d706c652e7465737400080014\
        4172c4a50b9a794fc3f52e1edf93c0460534a6a780280004ab077e2b";
    pub(crate) const ALLOCATE_SUCCESS: &str = "010300642112a442b7e07aeb4690cc7d2dc2efe9001600080001e1025e12a443002000080001b2e65e12a4430022\
        00080b292082c031c008000d00040000030980220014436f7475726e2d342e362e312027476f7273742700080014\
        c55148fb5484fa61d059c24e71f08017008ba84e80280004e1a35212";
    pub(crate) const CHANNEL_BIND_REQUEST: &str = "000900602112a442c2e6f9db6a90dfa7af8d49eb000c000442f80000001200080001e11b5e12a443000600017500\
        000000150010396664336161353763663733323230370014000c6578616d706c652e7465737400080014515ccfea\
        f80ad5e8fc3c40c0369babe29bc637a28028000497e75dbd";
    pub(crate) const CHANNEL_BIND_SUCCESS: &str = "010900382112a442c2e6f9db6a90dfa7af8d49eb80220014436f7475726e2d342e362e312027476f727374270008\
        00142e7565f16f85f96b804d6622e2f5bef3794e634380280004e528d868";
    pub(crate) const CREATE_PERMISSION_REQUEST: &str = "000800582112a4425ce98b66add09aa1e9749c0a0012000800012c8a5e12a4430006000175000000001500103638\
        39333865653539373830643666650014000c6578616d706c652e74657374000800146c82ee920638ee289ac5cace\
        89c758cc32b4413c80280004dde8aab7";
    pub(crate) const CREATE_PERMISSION_SUCCESS: &str = "010800382112a4425ce98b66add09aa1e9749c0a80220014436f7475726e2d342e362e312027476f727374270008\
        001494d32f19444dfad92ed48d86f5bc4dcb9615023680280004c0a8c14a";
    pub(crate) const SEND_INDICATION: &str = "0016007c2112a442c455d4c6f114eaec3434a2540013006400000000070707079c0c000000000000070707070707\
        07070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707\
        07070707070707070707070707070707070707070707070707070707070707070012000800012c8b5e12a4438028\
        00042a5e50e6";
    pub(crate) const DATA_INDICATION: &str = "001700942112a4429e0e9840713cd6b17ed75ecf0013006400000000070707079c0c000000000000070707070707\
        07070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707\
        07070707070707070707070707070707070707070707070707070707070707070012000800012c8b5e12a4438022\
        0014436f7475726e2d342e362e312027476f72737427802800049505b530";
    pub(crate) const CHANNEL_DATA_CLIENT: &str = "6a3600640000000007070707890a0000000000000707070707070707070707070707070707070707070707070707\
        07070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707\
        070707070707070707070707";
    pub(crate) const CHANNEL_DATA_SERVER: &str = "6a360064000000000707070765110000000000000707070707070707070707070707070707070707070707070707\
        07070707070707070707070707070707070707070707070707070707070707070707070707070707070707070707\
        070707070707070707070707";
    pub(crate) const TCP_CLIENT_STREAM: &str = "000300282112a442b6582c331eb255205d83e6270019000411000000000d00040000030900180001800000000017\
        000401000000802800043c86fbf00003006c2112a442668e999f5342aca10181bfe30019000411000000000d0004\
        00000309001800018000000000170004010000000006000175000000001500106532613631386666376430303333\
        39360014000c6578616d706c652e74657374000800145a7871d45af08c53b5fa5e3b23e5f501c3dec83e80280004\
        d9f28681000400542112a4429a5762f6eb05441e29ea2170000d0004000003090006000175000000001500106532\
        61363138666637643030333339360014000c6578616d706c652e74657374000800148eb1569a575c6a4a2d7c4682\
        f2bf62bdd594175080280004dd4d91a0";
    pub(crate) const TCP_SERVER_STREAM: &str = "011300582112a442b6582c331eb255205d83e6270009001000000401556e617574686f72697a6564001500106532\
        61363138666637643030333339360014000c6578616d706c652e7465737480220014436f7475726e2d342e362e31\
        2027476f727374278028000405edd102010300642112a442668e999f5342aca10181bfe3001600080001e1185e12\
        a443002000080001e6485e12a443002200087455ef70c032c00e000d00040000030980220014436f7475726e2d34\
        2e362e312027476f7273742700080014853df75f9ca2a10546a55a71a8cf31b4bab47f72802800041006ab600104\
        00402112a4429a5762f6eb05441e29ea2170000d00040000030980220014436f7475726e2d342e362e312027476f\
        7273742700080014d1d00076db262c60ff727327a0aae12ba422fd6980280004b793f63b";
}

/// RustDesk test messages, shared by the RustDesk parser's tests (proto) and the fingerprint's
/// (engine).
///
/// There is no public RustDesk capture and RustDesk is not packaged for Debian, so test
/// messages are hand-encoded from rendezvous.proto / message.proto with the small protobuf
/// writer below and framed with the bytes_codec header rule. Three of them are checked
/// against the encoding of protoc 3.21.12 (Debian 12 package protobuf-compiler), run as
/// `protoc --encode=hbb.RendezvousMessage rd.proto` / `--encode=hbb.Message` on a .proto
/// restating the field numbers and types used here (PROTOC_* below).
pub(crate) mod rustdesk {
    pub(crate) const PROTOC_REGISTER_PEER: &str = "320d0a093132333435363738391001";
    pub(crate) const PROTOC_PUNCH_HOLE_REQUEST: &str =
        "422a0a0931323334353637383910011a1063325679646d56794c57746c65513d3d3205312e332e3738fca401";
    pub(crate) const PROTOC_REQUEST_RELAY: &str = "9201480a09313233343536373839122430653662336338612d356637642d346432652d396136312d336332663862376531643430221372656c61792e6578616d706c653a32313131372801";

    /// A base-128 varint.
    pub(crate) fn pb_varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    /// A length-delimited field.
    pub(crate) fn ld(field: u32, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        pb_varint(u64::from(field) << 3 | 2, &mut out);
        pb_varint(bytes.len() as u64, &mut out);
        out.extend_from_slice(bytes);
        out
    }

    /// A varint field.
    pub(crate) fn vi(field: u32, v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        pb_varint(u64::from(field) << 3, &mut out);
        pb_varint(v, &mut out);
        out
    }

    /// bytes_codec framing.
    pub(crate) fn frame(payload: &[u8]) -> Vec<u8> {
        let n = payload.len();
        let mut out = if n <= 0x3f {
            vec![(n << 2) as u8]
        } else if n <= 0x3fff {
            ((n << 2) as u16 | 1).to_le_bytes().to_vec()
        } else {
            ((n << 2) as u32 | 2).to_le_bytes()[..3].to_vec()
        };
        out.extend_from_slice(payload);
        out
    }

    /// RendezvousMessage{ register_peer: { id: "123456789", serial: 1 } }
    pub(crate) fn register_peer() -> Vec<u8> {
        ld(6, &[ld(1, b"123456789"), vi(2, 1)].concat())
    }

    /// RendezvousMessage{ register_peer_response: { request_pk: true } }
    pub(crate) fn register_peer_response() -> Vec<u8> {
        ld(7, &vi(2, 1))
    }

    /// RendezvousMessage{ punch_hole_request: { id, nat_type: ASYMMETRIC, licence_key,
    /// version, udp_port: 21116 } }
    pub(crate) fn punch_hole_request() -> Vec<u8> {
        ld(8, &[ld(1, b"123456789"), vi(2, 1), ld(3, b"c2VydmVyLWtleQ=="), ld(6, b"1.3.7"), vi(7, 21116)].concat())
    }

    /// RendezvousMessage{ request_relay: { id, uuid, relay_server, secure: true } } (field
    /// 18: a two-byte key).
    pub(crate) fn request_relay() -> Vec<u8> {
        ld(
            18,
            &[
                ld(1, b"123456789"),
                ld(2, b"0e6b3c8a-5f7d-4d2e-9a61-3c2f8b7e1d40"),
                ld(4, b"relay.example:21117"),
                vi(5, 1),
            ]
            .concat(),
        )
    }

    /// Message{ signed_id: { id: <96 bytes: signature + id + key> } } (a 2-byte frame header).
    pub(crate) fn signed_id() -> Vec<u8> {
        ld(3, &ld(1, &[0xA5; 96]))
    }

    /// Message{ public_key: { asymmetric_value: <32 bytes>, symmetric_value: <48 bytes> } }
    pub(crate) fn public_key() -> Vec<u8> {
        ld(4, &[ld(1, &[0x11; 32]), ld(2, &[0x22; 48])].concat())
    }

    /// Message{ hash: { salt, challenge } }
    pub(crate) fn hash() -> Vec<u8> {
        ld(9, &[ld(1, b"c2FsdHNhbHQ="), ld(2, b"Y2hhbGxlbmdl")].concat())
    }

    /// An encrypted frame after the key exchange: opaque bytes, only the prefix is clear.
    pub(crate) fn sealed(len: usize) -> Vec<u8> {
        frame(&(0..len).map(|i| (i * 31 + 7) as u8).collect::<Vec<_>>())
    }

    /// Peer session as seen on the wire: the controlled side sends signed_id, then encrypted
    /// frames; the controlling side answers public_key, then encrypted frames.
    pub(crate) fn peer_client() -> Vec<u8> {
        [frame(&public_key()), sealed(40), sealed(200)].concat()
    }

    /// The controlled side of [`peer_client`].
    pub(crate) fn peer_server() -> Vec<u8> {
        [frame(&signed_id()), sealed(60), sealed(1000)].concat()
    }
}

/// teamviewer test messages, shared by the parser's tests (proto) and the fingerprint's (engine).
pub(crate) mod teamviewer {
    use crate::proto_crate::teamviewer::{MAGIC_V1, MAGIC_V2, V2_HEADER_LEN};

    pub(crate) fn v1(command: u8, data_len: usize) -> Vec<u8> {
        let mut f = MAGIC_V1.to_vec();
        f.push(command);
        f.extend_from_slice(&u16::try_from(data_len).unwrap().to_le_bytes());
        f.extend((0..data_len).map(|i| (i * 7 + 3) as u8));
        f
    }

    pub(crate) fn v2(command: u8, packet_id: u32, data_len: usize) -> Vec<u8> {
        let mut f = MAGIC_V2.to_vec();
        f.extend_from_slice(&[command, 0]);
        f.extend_from_slice(&u32::try_from(data_len).unwrap().to_le_bytes());
        f.extend_from_slice(&packet_id.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&27u32.to_le_bytes());
        f.extend_from_slice(&u32::try_from(V2_HEADER_LEN).unwrap().to_le_bytes());
        f.extend((0..data_len).map(|i| (i * 13 + 1) as u8));
        f
    }

    pub(crate) fn udp(counter: u8, command: u8, data_len: usize) -> Vec<u8> {
        let mut d = vec![counter, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3];
        d.extend(v1(command, data_len));
        d
    }
}

/// pptp test messages, shared by the parser's tests (proto) and the fingerprint's (engine).
pub(crate) mod pptp {
    use crate::proto_crate::pptp::{MAGIC, MESSAGE_TYPE_CONTROL, SCC_LEN};

    /// A Start-Control-Connection message of control type `kind`, host name "local".
    pub(crate) fn scc(kind: u16) -> Vec<u8> {
        let mut m = vec![0u8; SCC_LEN];
        m[..2].copy_from_slice(&(SCC_LEN as u16).to_be_bytes());
        m[2..4].copy_from_slice(&MESSAGE_TYPE_CONTROL);
        m[4..8].copy_from_slice(&MAGIC);
        m[8..10].copy_from_slice(&kind.to_be_bytes());
        m[12..14].copy_from_slice(&[1, 0]);
        m[28..33].copy_from_slice(b"local");
        m
    }
}

/// icmp test messages, shared by the parser's tests (proto) and the fingerprint's (engine).
pub(crate) mod icmp {
    /// An IPv4/TCP header (20 + 20 bytes, valid checksum) as an icmptunnel-style payload.
    pub(crate) fn ipv4_packet() -> Vec<u8> {
        let mut p =
            vec![0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 10, 0, 0, 1, 10, 0, 0, 2];
        let mut sum: u32 = p.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let c = !(sum as u16);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p.extend_from_slice(&[0u8; 20]);
        p
    }
}

/// radmin test messages, shared by the parser's tests (proto) and the fingerprint's (engine).
pub(crate) mod radmin {
    use crate::proto_crate::radmin::{MARKER, checksum};

    pub(crate) fn msg(payload: &[u8]) -> Vec<u8> {
        let mut m = vec![MARKER];
        m.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
        m.extend_from_slice(&checksum(payload).to_be_bytes());
        m.extend_from_slice(payload);
        m
    }

    pub(crate) fn hello_server() -> Vec<u8> {
        let mut p = vec![0u8; 37];
        p[..5].copy_from_slice(&[0x08, 0x02, 0x00, 0x00, 0x0A]);
        msg(&p)
    }
}

/// softether test messages, shared by the parser's tests (proto) and the fingerprint's (engine).
pub(crate) mod softether {
    use crate::proto_crate::softether::VALUE_SIZED;

    /// A PACK built from the format: `(name, type, values)`.
    pub(crate) fn pack(elems: &[(&str, u32, &[&[u8]])]) -> Vec<u8> {
        let mut d = (elems.len() as u32).to_be_bytes().to_vec();
        for (name, kind, values) in elems {
            d.extend_from_slice(&(name.len() as u32 + 1).to_be_bytes());
            d.extend_from_slice(name.as_bytes());
            d.extend_from_slice(&kind.to_be_bytes());
            d.extend_from_slice(&(values.len() as u32).to_be_bytes());
            for v in *values {
                if VALUE_SIZED.contains(kind) {
                    d.extend_from_slice(&(v.len() as u32).to_be_bytes());
                }
                d.extend_from_slice(v);
            }
        }
        d
    }
}

/// rdp test messages, shared by the parser's tests (proto) and the fingerprint's (engine).
pub(crate) mod rdp {
    /// RDP-UDP SYN (MS-RDPEUDP 2.2.2.1/2.2.2.5): flags SYN|CORRELATION_ID|SYNEX, initial
    /// sequence 0x0b127f15, MTUs 1232, zero-padded to 1232.
    pub(crate) fn udp_syn() -> Vec<u8> {
        let mut d = vec![0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x40, 0x18, 0x01];
        d.extend_from_slice(&[0x0b, 0x12, 0x7f, 0x15, 0x04, 0xd0, 0x04, 0xd0]);
        d.resize(1232, 0);
        d
    }

    /// A mid-session data datagram: FEC header (ACK|DATA), a one-element ack vector, source
    /// payload header and the start of a TLS application-data record.
    pub(crate) fn udp_data(ack: u32, seq: u32) -> Vec<u8> {
        let mut d = ack.to_be_bytes().to_vec();
        d.extend_from_slice(&[0x04, 0x00, 0x00, 0x0c, 0x00, 0x01, 0x05, 0x00]);
        d.extend_from_slice(&seq.to_be_bytes());
        d.extend_from_slice(&seq.to_be_bytes());
        d.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x20]);
        d.resize(d.len() + 32, 0x5a);
        d
    }

    pub(crate) const RDP_TLS_CR: &str =
        "0300002a25e00000000000436f6f6b69653a206d737473686173683d746573740d0a0100080003000000";

    pub(crate) const RDP_TLS_CC: &str = "030000130ed000001234000201080001000000";
}

/// tailscale test messages, shared by the parser's tests (proto) and the fingerprint's (engine).
pub(crate) mod tailscale {
    use crate::proto_crate::tailscale::{DISCO_MAGIC, KEY_LEN, NONCE_LEN};

    pub(crate) fn disco(key_byte: u8, box_len: usize) -> Vec<u8> {
        let mut p = DISCO_MAGIC.to_vec();
        p.extend((0..KEY_LEN).map(|i| key_byte.wrapping_add(i as u8)));
        p.extend((0..NONCE_LEN).map(|i| 0xA0 ^ i as u8));
        p.extend((0..box_len).map(|i| (i as u8).wrapping_mul(37)));
        p
    }
}

/// nomachine test messages, shared by the parser's tests (proto) and the fingerprint's (engine).
pub(crate) mod nomachine {
    use crate::proto_crate::nomachine::UDP_MIN_LEN;

    pub(crate) fn udp(kind: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
        let len = u16::try_from(UDP_MIN_LEN + payload.len()).unwrap();
        [&kind.to_le_bytes()[..], &1u16.to_le_bytes(), &len.to_le_bytes(), &seq.to_le_bytes(), &[0, 0], payload]
            .concat()
    }
}

/// openvpn test messages, shared by the parser's tests (proto) and the fingerprint's (engine).
pub(crate) mod openvpn {
    pub(crate) const UDP_PLAIN_CLIENT: &str = "3844dc381dc46638140000000000";

    pub(crate) const UDP_PLAIN_SERVER: &str = "4019787662cc03fa8a010000000044dc381dc466381400000000";

    pub(crate) const UDP_TLSAUTH1_CLIENT: &str =
        "3872356b19d86b443d6d5af91511b9185faecb57f4975862df65db30df000000016b0620170000000000";

    pub(crate) const UDP_TLSCRYPT_CLIENT: &str = "38e8292d29ecf118e5000000016b061ff95a0e353667f1755013aeb1ea9ff46b1ba97f10a3b4aefe757aa281b842\
        72bced6bb65d78e8";

    pub(crate) const TCP_PLAIN_CLIENT: &str = "000e38ec79b005c28286a90000000000";

    // tls-crypt-v2 (OpenVPN 2.6.14, tests/cases/own-openvpn-tls-crypt-v2-udp): the client's v3
    // reset (replay id 0x0f000001: early negotiation; a 299-byte wrapped key at the end) and
    // the server's stateless cookie reset.
    pub(crate) const UDP_TLSCRYPTV2_CLIENT: &str = "50cd5ee12c269482250f0000016b1703c3760fe7a7b0ce5c44da50e87fc08ff478968307cd0df6ae07887a417b5bf082\
        c4c93bd5b70833b1f3966a922243cf916caaa50345decf94d6b1e1d6d4936a48f43c61248be84d65904f58674f59cf8c\
        d9e97c83546e5f9c4d097bc01545d70efa5f9b9dba95f7d87b3e2aa9fe8b79c8a72fe1601085a5c900354a2ec94ef68f\
        09941635c5be04169c7b2983827f9291cec048e18d73130c7a4acef037d30fb8248aa2678795aef56b6a29c81bfbc9b1\
        43a202efa81418504b19aaa1937e53bdd7b992ebe646025252aee5609c6819af55b4ce10b025f39960b7e0e26d98e453\
        93bf5bc707ac1ffb0740b41a339187001886d5c0f561ea1a7defb1f282f1b7e3b38e187f8694f5240be78f0ae07e1b39\
        adc6724ca56c930dd0339a43825d1362b9dbf5d854e2b38d2eecb2aa2a01adc7b7490a972250712b34d1d331c28fe6c0\
        20acadd5a00a5d81c132d95b34f4dc012b";

    pub(crate) const UDP_TLSCRYPTV2_SERVER: &str = "404916631a3fece846000000016b1703c3d2a462ced51ae934f8ed176f0b04c4c309b660124d9130a6b4b7203ca7ab79\
        a4e97ab4bab85d4a5c97807b9de30188b718d875519722b8";
}
