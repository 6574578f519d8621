// result.h: the error-as-value type of vtasos-bench is the project's own
// (hv-backend/core/include/vtasos/core/result.h), imported into vtasos::bench.
#pragma once

#include "vtasos/core/result.h"

namespace vtasos::bench {
using vtasos::Errc;
using vtasos::errc_message;
using vtasos::errc_name;
using vtasos::Error;
using vtasos::kErrcCount;
using vtasos::make_error;
using vtasos::Result;
using vtasos::Status;
}  // namespace vtasos::bench
