// CPU feature detection with a mask tests can set to force the plain C++ kernels.
#pragma once

namespace mediacore {

enum CpuFlag : int {
  kCpuAVX2 = 1 << 0,
};

// Features the running CPU has, limited by the mask (all on by default).
int cpu_flags();
// Restrict which features kernels may use; tests pass 0 to select the C reference rows.
void set_cpu_mask(int mask);
int cpu_mask();

}  // namespace mediacore
