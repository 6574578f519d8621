// Links against libimage_test_dep.so without a RUNPATH, so the library is "not found".
int image_test_dep_value();
int main() { return image_test_dep_value() == 42 ? 0 : 1; }
