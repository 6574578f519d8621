// libFuzzer target over vtasosd's message parser and validator.
//
// Every input is one candidate request line. parse_message must never crash,
// hang or leak, must answer every input with a message or an error, and the
// error reply must always serialize (invalid UTF-8 in echoed input included).
// Run: vtasos_protocol_fuzz -dict=hv-backend/daemon/fuzz/protocol.dict CORPUS_DIR SEED_DIRS...
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "vtasos/daemon/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace vtasos::daemon;
    std::string_view line(reinterpret_cast<const char*>(data), size);
    Parsed p = parse_message(line);
    if (p.message.ok()) {
        // A valid message must report the id it carried.
        if (!p.id || *p.id != p.message->id) std::abort();
        // Round trip of the typed arguments through the value types' JSON.
        if (auto* r = std::get_if<RegisterArgs>(&p.message->args); r && r->request) {
            auto again = vtasos::Request::from_json(r->request->to_json());
            if (!again.ok() || !(*again == *r->request)) std::abort();
        }
        std::string s = serialize(ok_reply(p.id));
        if (s.empty() || s.back() != '\n') std::abort();
    } else {
        if (p.message.error().message().empty()) std::abort();
        std::string s = serialize(error_reply(p.id, p.message.error()));
        if (s.empty() || s.back() != '\n') std::abort();
    }
    return 0;
}
