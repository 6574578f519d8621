int image_test_dep_value() { return 42; }
