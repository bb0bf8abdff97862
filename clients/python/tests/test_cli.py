"""The command line without a server: argument forms, exit codes of local commands."""

import contextlib
import io
import os
import shutil
import tempfile
import unittest

from support import ROOT

from opsync import cli


class ArgumentTest(unittest.TestCase):
    def parse(self, *argv):
        return cli.build_parser().parse_args(cli._join_option_values(list(argv)))

    def test_ids_and_tokens_starting_with_a_dash(self):
        """Base64url ids start with '-' one time in 64: they are values, not options."""
        args = self.parse("init", "--dir", "d", "--server", "http://x", "--workspace", "-6kdZ0gbf_55s5YSwZ_ppw",
                          "--token", "-tok")
        self.assertEqual((args.workspace, args.token), ("-6kdZ0gbf_55s5YSwZ_ppw", "-tok"))
        args = self.parse("detach", "--dir", "d", "k", "--", "-6kdZ0gbf_55s5YSwZ_ppw")
        self.assertEqual(args.file_id, "-6kdZ0gbf_55s5YSwZ_ppw")

    def test_a_dash_id_without_the_join_is_what_argparse_refuses(self):
        """The companion: without _join_option_values the same command is a usage error."""
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit):
            cli.build_parser().parse_args(["init", "--dir", "d", "--server", "http://x",
                                           "--workspace", "-6kdZ0gbf_55s5YSwZ_ppw"])


class LocalCommandTest(unittest.TestCase):
    def setUp(self):
        self.assertTrue(os.path.isdir(ROOT))
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory)

    def run_cli(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(list(argv))
        return code, out.getvalue(), err.getvalue()

    def test_a_directory_without_a_workspace_is_a_usage_error(self):
        code, _, err = self.run_cli("get", "--dir", os.path.join(self.directory, "none"), "k")
        self.assertEqual(code, 2)
        self.assertIn("not_initialized", err)

    def test_unknown_defect_name_is_refused(self):
        os.environ["OPSYNC_PY_DEFECT"] = "no-such-defect"
        try:
            code, _, err = self.run_cli("status", "--dir", self.directory)
        finally:
            del os.environ["OPSYNC_PY_DEFECT"]
        self.assertEqual(code, 2)
        self.assertIn("unknown defect", err)


if __name__ == "__main__":
    unittest.main()
