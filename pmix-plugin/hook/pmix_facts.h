// read_pmix_facts: RankFacts from the process's PMIx client (see .cpp).
#pragma once

#include <string>

#include "../internal/facts.h"

namespace vtasos::mpi {

// Fills nspace, rank and whatever of job size, local size, local rank, node
// id and hostname PMIx holds locally. False (with *why) when PMIx is not
// initialised in this process; the caller then relies on fill_from_env().
bool read_pmix_facts(RankFacts& f, std::string* why);

}  // namespace vtasos::mpi
