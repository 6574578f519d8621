// report_md.h: the Markdown report (report.md) and the result tables printed at the end.
#pragma once

#include <string>
#include <vector>

#include "analysis.h"
#include "model.h"

namespace vtasos::bench {

// The main result table(s) of the experiment, Markdown (also printed on stdout at the end).
std::string results_tables_md(const Analysis& a);

// The whole report: header (command, machine, statistics method), variant availability with the
// reasons of every skip, result tables, failed runs, notes, and links to `charts` (paths
// relative to the report).
std::string report_md(const ResultsDoc& doc, const Analysis& a,
                      const std::vector<std::string>& charts);

}  // namespace vtasos::bench
