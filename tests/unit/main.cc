// main.cc - CppUTest entry point for the unit tests.
//
// CppUTest's own leak detector replaces operator new; AddressSanitizer does
// the same job better, so the detector is switched off to let ASan own the heap.
#include <CppUTest/CommandLineTestRunner.h>
#include <CppUTest/MemoryLeakWarningPlugin.h>

int main(int argc, char** argv) {
  MemoryLeakWarningPlugin::turnOffNewDeleteOverloads();
  MemoryLeakWarningPlugin::saveAndDisableNewDeleteOverloads();
  return CommandLineTestRunner::RunAllTests(argc, argv);
}
